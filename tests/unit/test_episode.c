/* test_episode.c - one alert per (customer, kind) episode: cooldown, extension, escalation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/episode.h"

#define H 3600000LL

static void test_new_hold_escalate(void **st)
{
    (void)st;
    vane_episode_t ep = {0};
    assert_int_equal(vane_episode_fire(&ep, 10 * H, 3, 24 * H), VANE_EPISODE_NEW);
    assert_true(ep.opened_ms == 10 * H && ep.seq == 0 && ep.severity == 3);
    assert_int_equal(vane_episode_fire(&ep, 11 * H, 3, 24 * H), VANE_EPISODE_HOLD);
    assert_int_equal(vane_episode_fire(&ep, 12 * H, 2, 24 * H), VANE_EPISODE_HOLD);
    assert_int_equal(vane_episode_fire(&ep, 13 * H, 4, 24 * H), VANE_EPISODE_ESCALATE);
    assert_true(ep.seq == 1 && ep.severity == 4 && ep.opened_ms == 10 * H);
    assert_int_equal(vane_episode_fire(&ep, 14 * H, 4, 24 * H), VANE_EPISODE_HOLD);
    assert_int_equal(vane_episode_fire(&ep, 15 * H, 5, 24 * H), VANE_EPISODE_ESCALATE);
    assert_int_equal(ep.seq, 2);
}

static void test_cooldown_boundary_and_extension(void **st)
{
    (void)st;
    vane_episode_t ep = {0};
    vane_episode_fire(&ep, 0 + 1, 3, 24 * H);
    /* Firing every 20h keeps one episode alive for days. */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(vane_episode_fire(&ep, 1 + i * 20 * H, 3, 24 * H), VANE_EPISODE_HOLD);
    int64_t last = 1 + 5 * 20 * H;
    /* Exactly a cooldown after the last firing: a new episode. */
    assert_int_equal(vane_episode_fire(&ep, last + 24 * H, 3, 24 * H), VANE_EPISODE_NEW);
    assert_true(ep.opened_ms == last + 24 * H && ep.seq == 0);
    /* 1 ms inside the cooldown: held. */
    assert_int_equal(vane_episode_fire(&ep, last + 48 * H - 1, 3, 24 * H), VANE_EPISODE_HOLD);
}

static void test_zero_cooldown(void **st)
{
    (void)st;
    vane_episode_t ep = {0};
    assert_int_equal(vane_episode_fire(&ep, 5, 1, 0), VANE_EPISODE_NEW);
    assert_int_equal(vane_episode_fire(&ep, 5, 1, 0), VANE_EPISODE_NEW);
}

static void test_late_firing(void **st)
{
    (void)st;
    vane_episode_t ep = {0};
    vane_episode_fire(&ep, 100 * H, 3, 24 * H);
    /* An out-of-order firing a little earlier belongs to the same episode. */
    assert_int_equal(vane_episode_fire(&ep, 99 * H, 3, 24 * H), VANE_EPISODE_HOLD);
    assert_true(ep.last_seen_ms == 100 * H);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_hold_escalate),
        cmocka_unit_test(test_cooldown_boundary_and_extension),
        cmocka_unit_test(test_zero_cooldown),
        cmocka_unit_test(test_late_firing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
