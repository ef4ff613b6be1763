/* test_faults.c - exec under faults, on loopback with real agent processes: an agent killed
 * mid-round, and a coordinator killed and restarted from its checkpoint. */
#include <pthread.h>

#include "exec_main.c.inc"

typedef struct killer {
    pid_t parent;
    double after_s;
    pid_t killed;
} killer;

/* Kills site a's agent with SIGKILL once the run has been going for after_s. */
static void *kill_agent_a(void *arg)
{
    killer *k = arg;
    double t0 = now_mono();
    while (now_mono() - t0 < 30) {
        pid_t pid = find_agent(k->parent, "a");
        if (pid > 0 && now_mono() - t0 >= k->after_s) {
            kill(pid, SIGKILL);
            k->killed = pid;
            return NULL;
        }
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    return NULL;
}

Test(faults, agent_killed_mid_round_fails_site_and_round_goes_on, .timeout = 120)
{
    char dir[512], out[600], logp[600];
    test_dir(dir, sizeof dir, "kill-agent");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    FILE *log = fopen(logp, "w");
    sw_scenario sc;
    fault_scenario(&sc, "");
    sw_coord_options o;
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    killer k = {.parent = getpid(), .after_s = 4.0};
    pthread_t th;
    pthread_create(&th, NULL, kill_agent_a, &k);
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    pthread_join(th, NULL);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert_gt(k.killed, 0, "the agent of site a was never seen");
    cr_assert_geq(res.failures, 1);

    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    /* the failure is recorded: a fail event naming the heartbeat timeout, a failed state */
    double t_fail = -1;
    for (size_t i = 0; i < d->n_events; i++)
        if (d->events[i].kind == SW_REPORT_EV_FAIL && d->events[i].site == 0) {
            cr_assert(strstr(d->events[i].detail, "heartbeat"), "detail: %s", d->events[i].detail);
            t_fail = d->events[i].t_s;
            break;
        }
    cr_assert_geq(t_fail, 0, "no fail event for site a");
    bool failed_state = false;
    for (size_t i = 0; i < d->sites[0].n_states; i++)
        failed_state |= d->sites[0].states[i].state == SW_REPORT_STATE_FAILED;
    cr_assert(failed_state);
    /* rounds go on with site b alone, and every aggregated token is counted once */
    size_t after = 0;
    int64_t tokens = 0;
    for (size_t i = 0; i < d->n_rounds; i++) {
        const sw_report_round_row *r = &d->rounds[i];
        tokens += r->tokens;
        if (r->t_start_s >= t_fail) { /* a round decided at the failure starts then */
            cr_assert(!sw_report_mask_test(r->sites, 0), "round %lld has the failed site",
                      (long long)r->round);
            after += r->n_sites == 1 && sw_report_mask_test(r->sites, 1) && r->tokens > 0;
        }
    }
    cr_assert_geq(after, 1, "no round with site b after the failure");
    cr_assert_eq(tokens, d->summary.tokens);
    cr_assert_gt(tokens, 0);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}

Test(faults, coordinator_killed_and_restarted_resumes_from_checkpoint, .timeout = 150)
{
    char dir[512], out[600], logp[600], ckpt[700];
    test_dir(dir, sizeof dir, "kill-coord");
    snprintf(logp, sizeof logp, "%s/coord.log", dir);
    sw_scenario sc;
    /* with the Nesterov outer step, whose momentum the checkpoint must carry */
    fault_scenario(&sc, "rounds.outer.kind=nesterov");
    sw_coord_options o;
    FILE *log = fopen(logp, "w");
    coord_opts(&o, &sc, dir, out, sizeof out, log);
    /* a long validation: the next round's work comes back while it runs, before the
     * checkpoint of the round it validates is written */
    o.eval_batches = 300;
    snprintf(ckpt, sizeof ckpt, "%s.run/coordinator.ckpt", out);

    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        sw_error err;
        _exit(sw_coord_run(&o, NULL, &err));
    }
    /* Wait for a checkpoint and a few more rounds, then kill the coordinator hard. */
    double t0 = now_mono(), seen = -1;
    struct stat st;
    while (now_mono() - t0 < 60) {
        if (seen < 0 && stat(ckpt, &st) == 0)
            seen = now_mono();
        if (seen >= 0 && now_mono() - seen > 2.5)
            break;
        nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    cr_assert_geq(seen, 0, "no checkpoint was written");
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status));
    cr_assert_neq(stat(out, &st), 0, "a killed run must not leave a report at the final path");

    o.resume = true;
    sw_coord_result res;
    sw_error err;
    int rc = sw_coord_run(&o, &res, &err);
    fclose(log);
    cr_assert_eq(rc, SW_OK, "%s", err.msg);
    cr_assert(res.resumed);

    sw_report_data *d;
    cr_assert_eq(sw_report_open(out, &d, &err), SW_OK, "%s", err.msg);
    double t_restart = -1, next_round = -1;
    for (size_t i = 0; i < d->n_events; i++)
        if (d->events[i].kind == SW_REPORT_EV_NOTE && strstr(d->events[i].detail, "restarted")) {
            t_restart = d->events[i].t_s;
            next_round = d->events[i].value;
        }
    cr_assert_gt(t_restart, 0, "no restart note");
    cr_assert_geq(next_round, 1, "the checkpoint held no completed round");
    size_t before = 0, after = 0;
    for (size_t i = 0; i < d->n_rounds; i++) {
        if (i > 0)
            cr_assert_gt(d->rounds[i].round, d->rounds[i - 1].round, "round numbers repeat");
        if (d->rounds[i].t_end_s <= t_restart)
            before++;
        else {
            after++;
            cr_assert_geq(d->rounds[i].round, (int64_t)next_round);
        }
    }
    cr_assert_eq((double)before, next_round, "rounds kept from before the restart");
    cr_assert_geq(after, 1, "no round after the restart");
    /* data is marked used only in a checkpoint whose model contains it: the dataset's used
     * tokens are exactly the tokens aggregated into the model, across the restart */
    int64_t round_tokens = 0;
    for (size_t i = 0; i < d->n_rounds; i++)
        round_tokens += d->rounds[i].tokens;
    double consumed = NAN;
    for (size_t i = 0; i < d->summary.n_extras; i++)
        if (!strcmp(d->summary.extras[i].name, "data_consumed_tokens"))
            consumed = d->summary.extras[i].value;
    cr_assert_eq(round_tokens, d->summary.tokens, "rounds %lld, summary %lld",
                 (long long)round_tokens, (long long)d->summary.tokens);
    cr_assert_eq(consumed, (double)d->summary.tokens, "data used %.0f, in the model %lld", consumed,
                 (long long)d->summary.tokens);
    /* the global model kept its validation history across the restart, and the restored
     * model and momentum keep it training (a lost or garbled momentum blows the loss up) */
    cr_assert_geq(d->n_global, before + after);
    for (size_t i = 1; i < d->n_global; i++)
        cr_assert(isfinite(d->global[i].loss) && d->global[i].loss < d->global[0].loss,
                  "global loss %zu: %g (initial %g)", i, d->global[i].loss, d->global[0].loss);
    sw_report_data_free(d);
    sw_scenario_free(&sc);
    test_dir_done(dir);
}
