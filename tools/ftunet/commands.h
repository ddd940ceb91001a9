/* Every ftunet command, one file each (cmd_*.c). */
#ifndef FTN_COMMANDS_H
#define FTN_COMMANDS_H
#include "cli.h"

extern cli_command cmd_init;
extern cli_command cmd_forward;
extern cli_command cmd_grads;
extern cli_command cmd_eval;
extern cli_command cmd_recalibrate;
extern cli_command cmd_predict;
extern cli_command cmd_stats;
extern cli_command cmd_synth;
extern cli_command cmd_augment;
extern cli_command cmd_report;
extern cli_command cmd_train;
extern cli_command cmd_cv;
extern cli_command cmd_ablation;
extern cli_command cmd_bench;

#endif
