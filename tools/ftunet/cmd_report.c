/* ftunet report: (re)write RUN/report.html. */
#include "commands.h"

#include <stdio.h>

#include "ftunet_protocol.h"

static cli_option options[] = {
    { "engine", 0, "dnnl|ref", "compute engine for the test-set predictions (default: $FTUNET_ENGINE or dnnl)", NULL },
    { "threads", 't', "N", "threads (default: all cores)", NULL },
    { 0 },
};

static int run(cli_command *cmd, int argc, char **argv)
{
    if (argc != 1) return cli_error("report", "expected one RUN folder (see ftunet report --help)");
    ftn_engine engine;
    if (cli_engine_threads(cmd, &engine)) return 1;
    if (ftn_report_write(argv[0], engine)) return cli_lib_error("report");
    printf("%s/report.html\n", argv[0]);
    return 0;
}

cli_command cmd_report = {
    "report", "RUN",
    "Write RUN/report.html, a self-contained report of a training run.",
    "Write RUN/report.html, a self-contained report of a training run.\n"
    "The commit and machine of each session, test metrics (with HD95 and ASD), a sortable table of\n"
    "the test images and their DSC histogram, loss, validation-DSC, learning-rate and\n"
    "seconds-per-epoch curves, a precision-recall curve over thresholds on the test set, overlays\n"
    "of the best and worst test cases (prediction outlined magenta inside its edge on a light tint,\n"
    "ground truth green outside its edge), the split's ids and the configuration. Parts whose\n"
    "inputs are missing are left out, saying so.",
    "ftunet report runs/bus-ftl",
    options, run,
};
