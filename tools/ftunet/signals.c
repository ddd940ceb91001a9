/* SIGINT / SIGTERM as training's stop request (see signals.h). */
#include "signals.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train_opts.h"

volatile sig_atomic_t cli_stop_signal;

static void on_signal(int sig)
{
    static const char msg[] = "\nftunet: stopping after this step and saving the run (again to quit at once, "
                              "keeping its last save)\n";
    if (!cli_stop_signal) cli_stop_signal = sig;
    ssize_t w = write(2, msg, sizeof msg - 1); /* async-signal-safe; nothing to do if it fails */
    (void)w;
}

void cli_stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART; /* one request; the next signal has its default action */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_stop_progress(const ftn_train_progress *p, void *user)
{
    static long steps, due = -1;
    static int sig;
    train_progress(p, user);
    if (due < 0) { /* FTUNET_TEST_INTERRUPT=K[:TERM], read once */
        const char *v = getenv("FTUNET_TEST_INTERRUPT");
        char *end = NULL;
        due = v ? strtol(v, &end, 10) : 0;
        sig = end && !strcmp(end, ":TERM") ? SIGTERM : SIGINT;
    }
    if (p->phase == FTN_PHASE_STEP && ++steps == due) raise(sig);
}

int cli_stop_exit_status(void) { return 128 + (cli_stop_signal ? (int)cli_stop_signal : SIGINT); }
