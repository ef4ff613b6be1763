/* coord_eval.c - validation of the global model on the held-out split, in a thread so that
 * it never holds up the rounds (see coord_int.h); its result is the round's measured loss. */
#include "exec/coord_int.h"
#include "exec/fmt.h"

#include <math.h>
#include <string.h>

#include "kernels/train.h"

void coord_evaluate_global(coord *c, double *loss_out)
{
    memcpy(sw_model_params(c->eval_model), c->global, c->n_params * sizeof(float));
    float loss = NAN;
    sw_kerror ke;
    if (coord_data_evaluate(c, c->eval_model, &loss, &ke) != SW_K_OK)
        coord_fail(c, SW_ERUNTIME, "validation: %s", ke.msg);
    *loss_out = loss;
}

static void *eval_main(void *arg)
{
    coord *c = arg;
    sw_kerror ke;
    float loss = NAN;
    c->eval_rc = coord_data_evaluate(c, c->eval_model, &loss, &ke);
    if (c->eval_rc != SW_K_OK)
        sw_pathf(c->eval_msg, sizeof c->eval_msg, "validation: %s", ke.msg);
    c->eval_loss = loss;
    atomic_store(&c->eval_done, true);
    return NULL;
}

/* When the running validation is done (or at once with wait): the round's row and the
 * /global point, then a checkpoint and a report flush (a crash loses at most this round). */
void coord_eval_collect(coord *c, bool wait)
{
    if (!c->eval_running || (!wait && !atomic_load(&c->eval_done)))
        return;
    pthread_join(c->eval_th, NULL);
    c->eval_running = false;
    if (c->eval_rc != SW_K_OK) {
        coord_fail(c, SW_ERUNTIME, "%s", c->eval_msg);
        return;
    }
    double loss = c->eval_loss;
    sw_run_round_done(c->run, &c->eval_round, loss);
    const sw_report_round_row row = c->eval_round.row;
    coord_log(c,
              "round %lld: %d site(s), %lld tokens, validation loss %.4f (ppl %.2f, %.3f bits "
              "per byte)",
              (long long)row.round, row.n_sites, (long long)row.tokens, loss, exp(loss),
              coord_data_bits_per_byte(c, loss));
    sw_error e;
    if (coord_checkpoint_write(c, &e) != SW_OK)
        coord_log(c, "checkpoint not written: %s", e.msg);
    sw_run_flush(c->run);
}

/* Validates the new global model in a thread, so that the rounds go on meanwhile. */
void coord_eval_start(coord *c)
{
    memcpy(sw_model_params(c->eval_model), c->global, c->n_params * sizeof(float));
    atomic_store(&c->eval_done, false);
    if (pthread_create(&c->eval_th, NULL, eval_main, c) != 0) {
        coord_fail(c, SW_ERUNTIME, "coordinator: cannot start the validation thread");
        return;
    }
    c->eval_running = true;
}
