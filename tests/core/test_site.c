/* Tests of core/site: the lifecycle table, the happy paths the engine uses, and rejection of
 * every transition the lifecycle does not allow. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/site.h"

Test(site, a_full_window_walks_the_lifecycle)
{
    sw_site s = {SW_SITE_OFF, 0};
    sw_site_state path[] = {SW_SITE_PROVISIONING, SW_SITE_READY,    SW_SITE_TRAINING, SW_SITE_READY,
                            SW_SITE_TRAINING,     SW_SITE_DRAINING, SW_SITE_OFF};
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        sw_error err;
        cr_assert_eq(sw_site_transition(&s, path[i], 10.0 * (double)i, &err), SW_OK, "%s", err.msg);
        cr_expect_eq(s.state, path[i]);
        cr_expect_eq(s.since_s, 10.0 * (double)i);
    }
}

Test(site, every_state_but_off_can_fail_and_failed_returns_to_off)
{
    for (int st = SW_SITE_PROVISIONING; st <= SW_SITE_DRAINING; st++)
        cr_expect(sw_site_transition_valid((sw_site_state)st, SW_SITE_FAILED), "%d", st);
    cr_expect_not(sw_site_transition_valid(SW_SITE_OFF, SW_SITE_FAILED));
    cr_expect_not(sw_site_transition_valid(SW_SITE_FAILED, SW_SITE_FAILED));
    cr_expect(sw_site_transition_valid(SW_SITE_FAILED, SW_SITE_OFF));
}

Test(site, exactly_the_documented_transitions_are_allowed)
{
    /* site.h's list, written out again: any difference in the table is a test failure */
    static const char *const allowed[] = {
        "off>provisioning",  "provisioning>ready", "provisioning>off", "provisioning>failed",
        "ready>training",    "ready>off",          "ready>failed",     "training>ready",
        "training>draining", "training>failed",    "draining>off",     "draining>failed",
        "failed>off",
    };
    size_t n_allowed = 0;
    for (int a = 0; a < SW_SITE_STATE_COUNT; a++) {
        for (int b = 0; b < SW_SITE_STATE_COUNT; b++) {
            char name[64];
            snprintf(name, sizeof name, "%s>%s", sw_site_state_name((sw_site_state)a),
                     sw_site_state_name((sw_site_state)b));
            bool listed = false;
            for (size_t k = 0; k < sizeof allowed / sizeof allowed[0]; k++)
                listed |= strcmp(allowed[k], name) == 0;
            cr_expect_eq(sw_site_transition_valid((sw_site_state)a, (sw_site_state)b), listed, "%s",
                         name);
            n_allowed += listed;
        }
    }
    cr_expect_eq(n_allowed, sizeof allowed / sizeof allowed[0]);
}

Test(site, invalid_transitions_are_rejected_and_leave_the_state_alone)
{
    struct {
        sw_site_state from, to;
        const char *msg;
    } bad[] = {
        {SW_SITE_OFF, SW_SITE_TRAINING, "off -> training"},
        {SW_SITE_OFF, SW_SITE_READY, "off -> ready"},
        {SW_SITE_PROVISIONING, SW_SITE_TRAINING, "provisioning -> training"},
        {SW_SITE_TRAINING, SW_SITE_OFF, "training -> off"}, /* release is always graceful */
        {SW_SITE_DRAINING, SW_SITE_TRAINING, "draining -> training"},
        {SW_SITE_FAILED, SW_SITE_READY, "failed -> ready"},
        {SW_SITE_READY, SW_SITE_READY, "ready -> ready"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sw_site s = {bad[i].from, 5};
        sw_error err;
        cr_expect_eq(sw_site_transition(&s, bad[i].to, 6, &err), SW_EINPUT, "%s", bad[i].msg);
        cr_expect_eq(s.state, bad[i].from);
        cr_expect_eq(s.since_s, 5);
        cr_expect_not_null(strstr(err.msg, bad[i].msg), "\"%s\" lacks \"%s\"", err.msg, bad[i].msg);
    }
}

Test(site, time_may_not_run_backwards)
{
    sw_site s = {SW_SITE_OFF, 100};
    sw_error err;
    cr_expect_eq(sw_site_transition(&s, SW_SITE_PROVISIONING, 99, &err), SW_EINPUT);
    cr_expect_eq(s.state, SW_SITE_OFF);
    cr_expect_not_null(strstr(err.msg, "before the last"), "%s", err.msg);
}

Test(site, names)
{
    cr_expect_str_eq(sw_site_state_name(SW_SITE_OFF), "off");
    cr_expect_str_eq(sw_site_state_name(SW_SITE_DRAINING), "draining");
    cr_expect_str_eq(sw_site_state_name((sw_site_state)42), "?");
    cr_expect_not(sw_site_transition_valid((sw_site_state)42, SW_SITE_OFF));
}
