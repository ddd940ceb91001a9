/* SIGINT and SIGTERM as a stop request for training (ftn_train_config.stop): the first one asks
 * the library to finish its step and save the epoch in progress; a second one gets the signal's
 * default action (the process ends at once, and the run keeps what it last committed, as after
 * kill -9: every commit is atomic). */
#ifndef FTN_SIGNALS_H
#define FTN_SIGNALS_H
#include <signal.h>

#include "ftunet_protocol.h"

/* The signal number of the first stop request, 0 before one: the flag for ftn_train_config.stop. */
extern volatile sig_atomic_t cli_stop_signal;

/* Installs the handlers (sigaction; the first request resets them, so a second one ends the
 * process). Test hook: with FTUNET_TEST_INTERRUPT=K (or K:TERM) in the environment, the
 * progress callback cli_stop_progress raises SIGINT (SIGTERM) after this process's K-th
 * training step, so that a test interrupts a run at a known step. */
void cli_stop_install(void);

/* train_progress (user: its prefix), then the test hook's signal when due. */
void cli_stop_progress(const ftn_train_progress *p, void *user);

/* The exit status of a command stopped by a request: 128 + the signal (130 SIGINT, 143 SIGTERM). */
int cli_stop_exit_status(void);

#endif
