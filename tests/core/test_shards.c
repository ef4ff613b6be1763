/* test_shards.c - the data-shard manager (core/shards.h): handout order, progress, splitting,
 * failures, completion, a seeded property test of "no token twice, none lost", and checkpoints.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/shards.h"

static sw_shards *make(uint64_t total, uint64_t shard)
{
    sw_shards *s = NULL;
    sw_error err;
    cr_assert_eq(sw_shards_create(total, shard, &s, &err), SW_OK, "%s", err.msg);
    return s;
}

static sw_shard_lease take(sw_shards *s, uint32_t site)
{
    sw_shard_lease l;
    bool got = false;
    cr_assert_eq(sw_shards_acquire(s, site, &l, &got, NULL), SW_OK);
    cr_assert(got, "pool unexpectedly empty");
    cr_assert_eq(l.site, site);
    return l;
}

static void assert_lease(sw_shard_lease l, uint64_t id, uint64_t begin, uint64_t end)
{
    cr_assert_eq(l.lease_id, id, "lease id %llu, expected %llu", (unsigned long long)l.lease_id,
                 (unsigned long long)id);
    cr_assert_eq(l.begin_token, begin, "begin %llu, expected %llu",
                 (unsigned long long)l.begin_token, (unsigned long long)begin);
    cr_assert_eq(l.end_token, end, "end %llu, expected %llu", (unsigned long long)l.end_token,
                 (unsigned long long)end);
}

static void assert_conserved(const sw_shards *s)
{
    cr_assert_eq(sw_shards_done_tokens(s) + sw_shards_leased_tokens(s) + sw_shards_pool_tokens(s),
                 sw_shards_total_tokens(s));
}

Test(shards, hands_out_lowest_offsets_first_with_a_short_last_shard)
{
    sw_shards *s = make(1000, 300);
    assert_lease(take(s, 0), 1, 0, 300);
    assert_lease(take(s, 1), 2, 300, 600);
    assert_lease(take(s, 0), 3, 600, 900);
    assert_lease(take(s, 2), 4, 900, 1000);
    sw_shard_lease l;
    bool got = true;
    cr_assert_eq(sw_shards_acquire(s, 1, &l, &got, NULL), SW_OK);
    cr_assert_not(got);
    cr_assert_eq(sw_shards_pool_tokens(s), 0);
    cr_assert_eq(sw_shards_leased_tokens(s), 1000);
    cr_assert_eq(sw_shards_lease_count(s), 4);
    sw_shards_destroy(s);
}

Test(shards, partial_release_splits_and_the_remainder_goes_out_first)
{
    sw_shards *s = make(1000, 300);
    sw_shard_lease a = take(s, 0), b = take(s, 1);
    cr_assert_eq(sw_shards_release(s, 0, a.lease_id, 100, NULL), SW_OK);
    cr_assert_eq(sw_shards_done_tokens(s), 100);
    cr_assert_eq(sw_shards_pool_tokens(s), 200 + 400);
    /* The remainder [100, 300) is below every fresh shard, so it is next. */
    assert_lease(take(s, 2), 3, 100, 300);
    assert_lease(take(s, 2), 4, 600, 900);
    /* A release with everything consumed returns nothing to the pool. */
    cr_assert_eq(sw_shards_release(s, 1, b.lease_id, 300, NULL), SW_OK);
    cr_assert_eq(sw_shards_done_tokens(s), 400);
    assert_lease(take(s, 0), 5, 900, 1000);
    assert_conserved(s);
    sw_shards_destroy(s);
}

Test(shards, progress_advances_the_lease_and_closes_it_at_the_end)
{
    sw_shards *s = make(500, 200);
    sw_shard_lease a = take(s, 3);
    cr_assert_eq(sw_shards_progress(s, 3, a.lease_id, 50, NULL), SW_OK);
    cr_assert_eq(sw_shards_progress(s, 3, a.lease_id, 70, NULL), SW_OK);
    sw_shard_lease now;
    cr_assert(sw_shards_lease_find(s, a.lease_id, &now));
    assert_lease(now, a.lease_id, 120, 200);
    cr_assert_eq(sw_shards_done_tokens(s), 120);
    cr_assert_eq(sw_shards_progress(s, 3, a.lease_id, 80, NULL), SW_OK);
    cr_assert_not(sw_shards_lease_find(s, a.lease_id, NULL));
    cr_assert_eq(sw_shards_lease_count(s), 0);
    cr_assert_eq(sw_shards_done_tokens(s), 200);
    sw_shards_destroy(s);
}

Test(shards, failed_site_returns_its_unreported_work)
{
    sw_shards *s = make(1000, 250);
    sw_shard_lease a = take(s, 0), b = take(s, 1), c = take(s, 0);
    cr_assert_eq(sw_shards_progress(s, 0, a.lease_id, 40, NULL), SW_OK);
    cr_assert_eq(sw_shards_progress(s, 1, b.lease_id, 10, NULL), SW_OK);
    size_t returned = 0;
    cr_assert_eq(sw_shards_site_left(s, 0, &returned, NULL), SW_OK);
    cr_assert_eq(returned, 2);
    cr_assert_not(sw_shards_lease_find(s, a.lease_id, NULL));
    cr_assert_not(sw_shards_lease_find(s, c.lease_id, NULL));
    cr_assert(sw_shards_lease_find(s, b.lease_id, NULL));
    cr_assert_eq(sw_shards_done_tokens(s), 50);
    /* Site 0's reported 40 tokens stay done; the rest comes back, lowest first. */
    assert_lease(take(s, 2), 4, 40, 250);
    assert_lease(take(s, 2), 5, 500, 750);
    assert_lease(take(s, 2), 6, 750, 1000);
    cr_assert_eq(sw_shards_site_left(s, 9, &returned, NULL), SW_OK);
    cr_assert_eq(returned, 0);
    assert_conserved(s);
    sw_shards_destroy(s);
}

Test(shards, completion_only_when_every_token_is_done)
{
    sw_shards *s = make(10, 4);
    sw_shard_lease l;
    bool got;
    while (sw_shards_acquire(s, 0, &l, &got, NULL) == SW_OK && got) {
        cr_assert_not(sw_shards_complete(s));
        cr_assert_eq(sw_shards_release(s, 0, l.lease_id, l.end_token - l.begin_token - 1, NULL),
                     SW_OK);
        cr_assert_not(sw_shards_complete(s));
        l = take(s, 0);
        cr_assert_eq(l.end_token - l.begin_token, 1);
        cr_assert_eq(sw_shards_progress(s, 0, l.lease_id, 1, NULL), SW_OK);
    }
    cr_assert(sw_shards_complete(s));
    cr_assert_eq(sw_shards_done_tokens(s), 10);
    sw_shards_destroy(s);
}

Test(shards, bad_reports_are_rejected_and_change_nothing)
{
    sw_shards *s = make(100, 40);
    sw_shard_lease a = take(s, 0);
    sw_error err;
    cr_assert_eq(sw_shards_progress(s, 1, a.lease_id, 5, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "held by site 0, not site 1"), "%s", err.msg);
    cr_assert_eq(sw_shards_release(s, 0, a.lease_id, 41, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "tokens = 41") && strstr(err.msg, "only 40"), "%s", err.msg);
    cr_assert_eq(sw_shards_progress(s, 0, 77, 1, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "lease 77 is not open"), "%s", err.msg);
    cr_assert_eq(sw_shards_done_tokens(s), 0);
    cr_assert_eq(sw_shards_leased_tokens(s), 40);
    sw_shards *t = NULL;
    cr_assert_eq(sw_shards_create(0, 10, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "total_tokens"), "%s", err.msg);
    cr_assert_eq(sw_shards_create(10, 0, &t, &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "shard_tokens"), "%s", err.msg);
    sw_shards_destroy(s);
}

/* ---- property test ---- */

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static sw_shards *round_trip(sw_shards *s)
{
    size_t n = sw_shards_serialized_size(s), len = 0;
    unsigned char *buf = malloc(n), *again = malloc(n);
    sw_error err;
    cr_assert_eq(sw_shards_serialize(s, buf, n, &len, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(len, n);
    sw_shards *r = NULL;
    cr_assert_eq(sw_shards_deserialize(buf, len, &r, &err), SW_OK, "%s", err.msg);
    cr_assert_eq(sw_shards_serialize(r, again, n, &len, &err), SW_OK);
    cr_assert_arr_eq(buf, again, n, "a restored manager serializes differently");
    free(buf);
    free(again);
    sw_shards_destroy(s);
    return r;
}

/* Random sites acquire, progress, release and fail for many seeds; the test keeps its own
 * count of how often each token was reported trained. Every report must hit only untrained
 * tokens (none twice), the accounting must add up at every step, and at completion every token
 * was trained exactly once (none lost). Midway the manager is replaced by its checkpoint. */
Test(shards, property_no_token_twice_none_lost)
{
    enum { SITES = 4, MAX_HELD = 3 };
    for (uint64_t seed = 1; seed <= 60; seed++) {
        uint64_t x = seed * 0x9E3779B97F4A7C15ull;
        const uint64_t total = 500 + next_rand(&x) % 3000, shard = 1 + next_rand(&x) % 200;
        sw_shards *s = make(total, shard);
        unsigned char *trained = calloc(total, 1);
        uint64_t held[SITES][MAX_HELD];
        size_t n_held[SITES] = {0};
        for (int step = 0; !sw_shards_complete(s); step++) {
            cr_assert_lt(step, 200000, "seed %llu: no completion", (unsigned long long)seed);
            uint32_t site = (uint32_t)(next_rand(&x) % SITES);
            unsigned op = (unsigned)(next_rand(&x) % 100);
            if (op < 35 && n_held[site] < MAX_HELD) {
                sw_shard_lease l;
                bool got;
                cr_assert_eq(sw_shards_acquire(s, site, &l, &got, NULL), SW_OK);
                if (got) {
                    cr_assert_lt(l.begin_token, l.end_token);
                    cr_assert_leq(l.end_token - l.begin_token, shard);
                    held[site][n_held[site]++] = l.lease_id;
                }
            } else if (op < 97 && n_held[site] > 0) {
                size_t h = next_rand(&x) % n_held[site];
                sw_shard_lease l;
                cr_assert(sw_shards_lease_find(s, held[site][h], &l));
                uint64_t left = l.end_token - l.begin_token;
                uint64_t c = next_rand(&x) % (left + 1);
                for (uint64_t t = l.begin_token; t < l.begin_token + c; t++) {
                    cr_assert_eq(trained[t], 0, "seed %llu: token %llu trained twice",
                                 (unsigned long long)seed, (unsigned long long)t);
                    trained[t] = 1;
                }
                bool closes;
                if (op < 70) {
                    cr_assert_eq(sw_shards_progress(s, site, l.lease_id, c, NULL), SW_OK);
                    closes = c == left;
                } else {
                    cr_assert_eq(sw_shards_release(s, site, l.lease_id, c, NULL), SW_OK);
                    closes = true;
                }
                cr_assert_eq(sw_shards_lease_find(s, l.lease_id, NULL), !closes);
                if (closes)
                    held[site][h] = held[site][--n_held[site]];
            } else if (op >= 97) {
                /* The site fails: work it trained but never reported is simply redone. */
                cr_assert_eq(sw_shards_site_left(s, site, NULL, NULL), SW_OK);
                n_held[site] = 0;
            }
            assert_conserved(s);
            if (step == 300)
                s = round_trip(s);
        }
        for (uint64_t t = 0; t < total; t++)
            cr_assert_eq(trained[t], 1, "seed %llu: token %llu lost", (unsigned long long)seed,
                         (unsigned long long)t);
        cr_assert_eq(sw_shards_done_tokens(s), total);
        cr_assert_eq(sw_shards_lease_count(s), 0);
        free(trained);
        sw_shards_destroy(s);
    }
}

/* ---- checkpoints ---- */

/* A state with pool pieces and open leases of two sites. */
static sw_shards *busy_state(void)
{
    sw_shards *s = make(1000, 100);
    sw_shard_lease a = take(s, 0), b = take(s, 1);
    take(s, 0);
    take(s, 7);
    cr_assert_eq(sw_shards_release(s, 0, a.lease_id, 30, NULL), SW_OK);
    cr_assert_eq(sw_shards_progress(s, 1, b.lease_id, 55, NULL), SW_OK);
    return s;
}

static unsigned char *serialized(const sw_shards *s, size_t *len)
{
    size_t n = sw_shards_serialized_size(s);
    unsigned char *buf = malloc(n);
    cr_assert_eq(sw_shards_serialize(s, buf, n, len, NULL), SW_OK);
    return buf;
}

/* FNV-1a-64 as documented in shards.c, so tests can forge consistent-checksum buffers. */
static void reseal(unsigned char *p, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i + 8 < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    for (int b = 0; b < 8; b++)
        p[len - 8 + (size_t)b] = (unsigned char)(h >> (8 * b));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int b = 0; b < 8; b++)
        p[b] = (unsigned char)(v >> (8 * b));
}

static void expect_corrupt(const unsigned char *buf, size_t len, const char *needle)
{
    sw_shards *r = NULL;
    sw_error err;
    cr_assert_eq(sw_shards_deserialize(buf, len, &r, &err), SW_EINPUT, "accepted: %s", needle);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

Test(shards_checkpoint, round_trip_restores_behaviour)
{
    sw_shards *s = busy_state();
    size_t len;
    unsigned char *buf = serialized(s, &len);
    sw_shards *r = NULL;
    cr_assert_eq(sw_shards_deserialize(buf, len, &r, NULL), SW_OK);
    cr_assert_eq(sw_shards_done_tokens(r), sw_shards_done_tokens(s));
    cr_assert_eq(sw_shards_pool_tokens(r), sw_shards_pool_tokens(s));
    cr_assert_eq(sw_shards_lease_count(r), 3);
    for (size_t i = 0; i < 3; i++) {
        sw_shard_lease x, y;
        cr_assert_eq(sw_shards_lease_at(s, i, &x, NULL), SW_OK);
        cr_assert_eq(sw_shards_lease_at(r, i, &y, NULL), SW_OK);
        cr_assert(x.lease_id == y.lease_id && x.site == y.site && x.begin_token == y.begin_token &&
                  x.end_token == y.end_token);
    }
    /* Both hand out the same next leases. */
    for (int i = 0; i < 4; i++) {
        sw_shard_lease x = take(s, 5), y = take(r, 5);
        assert_lease(y, x.lease_id, x.begin_token, x.end_token);
    }
    /* Restarted without its sites, the coordinator returns their leases. */
    cr_assert_eq(sw_shards_site_left(r, 7, NULL, NULL), SW_OK);
    assert_lease(take(r, 2), 9, 300, 400);
    free(buf);
    sw_shards_destroy(s);
    sw_shards_destroy(r);
}

Test(shards_checkpoint, corrupt_buffers_are_rejected_naming_the_field)
{
    sw_shards *s = busy_state();
    size_t len;
    unsigned char *good = serialized(s, &len);
    unsigned char *buf = malloc(len);

    expect_corrupt(good, 20, "truncated");
    expect_corrupt(good, len - 1, "do not match the length");
    memcpy(buf, good, len);
    buf[0] = 'X';
    expect_corrupt(buf, len, "'magic'");
    memcpy(buf, good, len);
    buf[4] = 2;
    expect_corrupt(buf, len, "'version'");
    /* A flipped bit anywhere in the content is caught by the checksum. */
    for (size_t i = 8; i < len; i += 7) {
        memcpy(buf, good, len);
        buf[i] ^= 0x10;
        sw_shards *r = NULL;
        cr_assert_eq(sw_shards_deserialize(buf, len, &r, NULL), SW_EINPUT, "bit flip at %zu", i);
    }
    memcpy(buf, good, len);
    buf[len - 1] ^= 1;
    expect_corrupt(buf, len, "'checksum'");

    /* Inconsistent content with a valid checksum (a buggy writer, not noise). */
    memcpy(buf, good, len);
    put64(buf + 32, 999); /* done_tokens */
    reseal(buf, len);
    expect_corrupt(buf, len, "'done_tokens'");
    memcpy(buf, good, len);
    put64(buf + 24, 250); /* frontier off the shard grid */
    reseal(buf, len);
    expect_corrupt(buf, len, "'frontier'");
    memcpy(buf, good, len);
    put64(buf + 64 + 8, 150); /* pool[0] = [30, 150) crosses the shard boundary at 100 */
    reseal(buf, len);
    expect_corrupt(buf, len, "'pool[0]'");
    memcpy(buf, good, len);
    /* The first lease record (lease 2, after the one pool piece) moved onto the pool piece
     * [30, 100). */
    const size_t lease2 = 64 + 16;
    put64(buf + lease2 + 16, 40);
    put64(buf + lease2 + 24, 100);
    reseal(buf, len);
    expect_corrupt(buf, len, "both in the pool and leased");
    memcpy(buf, good, len);
    put64(buf + lease2, 50); /* lease id beyond next_lease */
    reseal(buf, len);
    expect_corrupt(buf, len, "'lease[0].lease_id'");

    free(good);
    free(buf);
    sw_shards_destroy(s);
}

Test(shards_checkpoint, small_buffer_is_a_runtime_error)
{
    sw_shards *s = busy_state();
    unsigned char buf[16];
    size_t len = 0;
    sw_error err;
    cr_assert_eq(sw_shards_serialize(s, buf, sizeof buf, &len, &err), SW_ERUNTIME);
    cr_assert(strstr(err.msg, "needed"), "%s", err.msg);
    sw_shards_destroy(s);
}
