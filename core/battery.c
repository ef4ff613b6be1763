/* battery.c - the solar-first, battery-then-grid dispatch rule of battery.h. */
#include "core/battery.h"

#include <math.h>
#include <string.h>

int sw_battery_init(sw_battery *b, const sw_battery_config *c, const char *prefix, sw_error *err)
{
    memset(b, 0, sizeof *b);
    const char *p = prefix ? prefix : "battery";
    if (!(c->capacity_wh > 0) || !isfinite(c->capacity_wh))
        return sw_errorf(err, SW_EINPUT, "%s.capacity_wh: expected > 0, got %g", p, c->capacity_wh);
    if (!(c->max_charge_w >= 0) || !isfinite(c->max_charge_w))
        return sw_errorf(err, SW_EINPUT, "%s.max_charge_w: expected >= 0, got %g", p,
                         c->max_charge_w);
    if (!(c->max_discharge_w >= 0) || !isfinite(c->max_discharge_w))
        return sw_errorf(err, SW_EINPUT, "%s.max_discharge_w: expected >= 0, got %g", p,
                         c->max_discharge_w);
    if (!(c->round_trip_efficiency > 0 && c->round_trip_efficiency <= 1))
        return sw_errorf(err, SW_EINPUT, "%s.round_trip_efficiency: expected in (0, 1], got %g", p,
                         c->round_trip_efficiency);
    if (!(c->soc_min >= 0 && c->soc_min < c->soc_max && c->soc_max <= 1))
        return sw_errorf(err, SW_EINPUT,
                         "%s.soc_min, %s.soc_max: expected 0 <= soc_min < soc_max <= 1, got %g, %g",
                         p, p, c->soc_min, c->soc_max);
    if (!(c->soc_initial >= c->soc_min && c->soc_initial <= c->soc_max))
        return sw_errorf(err, SW_EINPUT, "%s.soc_initial: expected in [soc_min, soc_max], got %g",
                         p, c->soc_initial);
    b->cfg = *c;
    b->eta = sqrt(c->round_trip_efficiency);
    b->stored_wh = c->soc_initial * c->capacity_wh;
    return SW_OK;
}

sw_battery_steer sw_battery_default_steer(double mci_g_per_kwh, double threshold_g_per_kwh)
{
    bool curtailed = mci_g_per_kwh < threshold_g_per_kwh;
    return (sw_battery_steer){.charge_from_grid = curtailed, .discharge = !curtailed};
}

double sw_battery_soc(const sw_battery *b)
{
    return b->stored_wh / b->cfg.capacity_wh;
}

int sw_battery_dispatch(sw_battery *b, double dt_s, double demand_w, double solar_w, double mci,
                        sw_battery_steer steer, sw_battery_step *o, sw_error *err)
{
    if (!(dt_s > 0) || !isfinite(dt_s))
        return sw_errorf(err, SW_EINPUT, "battery: dt_s: expected > 0, got %g", dt_s);
    if (!(demand_w >= 0) || !isfinite(demand_w) || !(solar_w >= 0) || !isfinite(solar_w))
        return sw_errorf(err, SW_EINPUT, "battery: demand_w and solar_w: expected >= 0, got %g, %g",
                         demand_w, solar_w);
    double g_per_kwh = isnan(mci) ? 0 : mci;
    double h = dt_s / 3600.0, eta = b->eta;
    memset(o, 0, sizeof *o);
    o->demand_w = demand_w;
    o->solar_w = solar_w;
    o->stored_wh_before = b->stored_wh;
    /* headroom and available energy, as powers over this step */
    double room_w = fmax(0, b->cfg.soc_max * b->cfg.capacity_wh - b->stored_wh) / (eta * h);
    double avail_w = fmax(0, b->stored_wh - b->cfg.soc_min * b->cfg.capacity_wh) / h;

    o->solar_to_load_w = fmin(solar_w, demand_w);
    double surplus = solar_w - o->solar_to_load_w, deficit = demand_w - o->solar_to_load_w;
    double charge_cap = fmin(b->cfg.max_charge_w, room_w);
    o->solar_to_battery_w = fmin(surplus, charge_cap);
    o->spilled_w = surplus - o->solar_to_battery_w;
    if (steer.discharge && deficit > 0) {
        o->discharge_w = fmin(fmin(deficit / eta, b->cfg.max_discharge_w), avail_w);
        o->battery_to_load_w = eta * o->discharge_w;
    }
    o->grid_to_load_w = fmax(0, deficit - o->battery_to_load_w);
    if (steer.charge_from_grid && o->discharge_w == 0)
        o->grid_to_battery_w = fmax(0, charge_cap - o->solar_to_battery_w);
    o->grid_w = o->grid_to_load_w + o->grid_to_battery_w;
    o->charge_w = o->solar_to_battery_w + o->grid_to_battery_w;
    o->charge_loss_w = (1 - eta) * o->charge_w;
    o->discharge_loss_w = (1 - eta) * o->discharge_w;

    /* carbon: grid to load now; grid to battery is carried by the stored energy */
    double to_load_g = o->grid_to_load_w * h / 1000 * g_per_kwh;
    double to_batt_g = o->grid_to_battery_w * h / 1000 * g_per_kwh;
    double out_g = 0;
    if (o->discharge_w > 0 && b->stored_wh > 0)
        out_g = b->stored_carbon_g * (o->discharge_w * h) / b->stored_wh;
    o->grid_carbon_g = to_load_g + to_batt_g;
    o->load_carbon_g = to_load_g + out_g;
    b->stored_carbon_g += to_batt_g - out_g;
    b->stored_wh += (eta * o->charge_w - o->discharge_w) * h;
    if (b->stored_wh < 0) /* rounding */
        b->stored_wh = 0;
    if (b->stored_carbon_g < 0)
        b->stored_carbon_g = 0;
    o->stored_wh_after = b->stored_wh;
    return SW_OK;
}
