/* test_data.c - byte tokenizer, train/validation split and the shard loader. */
#include <criterion/criterion.h>

#include "kernels/data.h"

Test(data, byte_tokenizer_round_trips)
{
    const uint8_t text[] = {'H', 'i', 0, 255, '\n'};
    int32_t ids[5];
    uint8_t back[5];
    sw_byte_encode(text, 5, ids);
    cr_assert_eq(ids[3], 255);
    sw_byte_decode(ids, 5, back);
    cr_assert(!memcmp(text, back, 5));
    int32_t bad[2] = {300, -1};
    sw_byte_decode(bad, 2, back);
    cr_assert_eq(back[0], '?');
    cr_assert_eq(back[1], '?');
}

Test(data, split_is_first_90_last_10)
{
    sw_span tr, va;
    sw_split_train_val(1000, &tr, &va);
    cr_assert_eq(tr.begin, 0);
    cr_assert_eq(tr.end, 900);
    cr_assert_eq(va.begin, 900);
    cr_assert_eq(va.end, 1000);
    sw_split_train_val(1115394, &tr, &va); /* tiny Shakespeare */
    cr_assert_eq(tr.end, 1003854);
    sw_split_train_val(19, &tr, &va);
    cr_assert_eq(tr.end, 17); /* floor(17.1) */
}

Test(data, loader_yields_shifted_shards_and_wraps)
{
    uint8_t tokens[30];
    for (int i = 0; i < 30; i++)
        tokens[i] = (uint8_t)i;
    sw_loader ld;
    sw_kerror err;
    cr_assert_eq(sw_loader_init(&ld, tokens, (sw_span){5, 25}, 2, 4, &err), SW_K_OK);
    int32_t in[8], tg[8];
    sw_loader_next(&ld, in, tg);
    cr_assert_eq(in[0], 5);
    cr_assert_eq(in[7], 12);
    cr_assert_eq(tg[0], 6);
    cr_assert_eq(tg[7], 13);
    sw_loader_next(&ld, in, tg); /* 13..21, target up to 21 < 25 */
    cr_assert_eq(in[0], 13);
    cr_assert_eq(ld.pos, 21);
    sw_loader_next(&ld, in, tg); /* 21 + 9 > 25: wraps */
    cr_assert_eq(in[0], 5);
    cr_assert_eq(sw_loader_seek(&ld, 13, &err), SW_K_OK);
    sw_loader_next(&ld, in, tg);
    cr_assert_eq(in[0], 13);
    cr_assert_eq(sw_loader_seek(&ld, 25, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "25"), "%s", err.msg);
}

Test(data, loader_needs_one_batch_plus_one)
{
    uint8_t tokens[9] = {0};
    sw_loader ld;
    sw_kerror err;
    cr_assert_eq(sw_loader_init(&ld, tokens, (sw_span){0, 9}, 2, 4, &err), SW_K_OK);
    cr_assert_eq(sw_loader_init(&ld, tokens, (sw_span){1, 9}, 2, 4, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "needs 9"), "%s", err.msg);
}

Test(data, text_load_errors_name_the_file)
{
    sw_text t;
    sw_kerror err;
    cr_assert_eq(sw_text_load("/nonexistent/shakespeare.txt", &t, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "/nonexistent/shakespeare.txt"), "%s", err.msg);
    cr_assert_eq(sw_text_load("/dev/null", &t, &err), SW_K_EINPUT);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    cr_assert_eq(sw_text_load(SW_SOURCE_DIR "/corpus/tinyshakespeare.txt", &t, &err), SW_K_OK);
    cr_assert_eq(t.n, 1115394);
    cr_assert_eq(t.bytes[0], 'F');
    sw_text_free(&t);
}
