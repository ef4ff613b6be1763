/* battery.h - on-site solar and a battery behind a site's meter: who serves the site's demand,
 * step by step (issue 12, item 4; DESIGN §9 "Power sources").
 *
 * Each step of dt_s seconds at constant powers (W), the dispatch rule is:
 *   1. solar serves the demand first (solar_to_load = min(solar, demand));
 *   2. surplus solar charges the battery (charge limit, state-of-charge ceiling); the rest is
 *      spilled (curtailed on site);
 *   3. the remaining demand is served by the battery if the steer allows discharging
 *      (discharge limit, state-of-charge floor), the rest by the grid;
 *   4. if the steer asks to charge from the grid (e.g. while the grid is curtailed) and the
 *      battery is not discharging, the grid charges it with what the charge limit leaves.
 * Efficiencies: one-way eta = sqrt(round_trip_efficiency) at charge and at discharge, so
 * storage gains eta * charge_w * dt and loses discharge_w * dt while delivering
 * eta * discharge_w * dt to the load. Energy balance of every step (tested):
 *   grid_w + solar_w + discharge_w = demand_w + charge_w + spilled_w + discharge_loss_w
 *   stored_after - stored_before  = (eta * charge_w - discharge_w) * dt
 * Carbon counts grid energy only, at the grid's intensity when drawn. Grid energy that charges
 * the battery is not counted when drawn: the battery keeps the carbon of what it holds (solar
 * adds none, charge losses keep theirs, so stored energy carries intensity / eta), and energy
 * leaving storage carries the stored average intensity to the load. So
 *   sum of load carbon + carbon still stored = sum of grid energy * intensity   (tested).
 * Units: W, Wh, s, gCO2, gCO2/kWh. Pure: no I/O.
 */
#ifndef SW_BATTERY_H
#define SW_BATTERY_H

#include <stdbool.h>

#include "core/error.h"

typedef struct sw_battery_config {
    double capacity_wh;           /* usable energy at soc 1, > 0 */
    double max_charge_w;          /* limit at the terminals, >= 0 */
    double max_discharge_w;       /* limit on what leaves storage, >= 0 */
    double round_trip_efficiency; /* in (0, 1] */
    double soc_min, soc_max;      /* state-of-charge limits, 0 <= min < max <= 1 */
    double soc_initial;           /* in [soc_min, soc_max] */
} sw_battery_config;

/* What the policy asks of the battery this step. */
typedef struct sw_battery_steer {
    bool charge_from_grid; /* charge from the grid (curtailed power) */
    bool discharge;        /* serve the demand from the battery (extend a window) */
} sw_battery_steer;

typedef struct sw_battery_step {
    double demand_w, solar_w; /* inputs */
    double solar_to_load_w, solar_to_battery_w, spilled_w;
    double grid_to_load_w, grid_to_battery_w, grid_w;
    double charge_w;          /* into the battery terminals: solar + grid */
    double discharge_w;       /* out of storage */
    double battery_to_load_w; /* delivered: eta * discharge_w */
    double charge_loss_w, discharge_loss_w;
    double stored_wh_before, stored_wh_after;
    double grid_carbon_g; /* carbon of all grid energy drawn this step */
    double load_carbon_g; /* carbon attributed to the site's consumption this step */
} sw_battery_step;

typedef struct sw_battery {
    sw_battery_config cfg;
    double eta;             /* one-way efficiency */
    double stored_wh;       /* energy in storage */
    double stored_carbon_g; /* carbon carried by that energy */
} sw_battery;

/* Checks cfg (errors name sites[i].battery.<field> with the given prefix, e.g. "battery") and
 * starts at soc_initial with carbon-free stored energy. */
int sw_battery_init(sw_battery *b, const sw_battery_config *cfg, const char *prefix, sw_error *err);

/* One dispatch step; demand_w, solar_w >= 0, dt_s > 0, mci >= 0 (NaN: no grid signal, counted
 * as 0 g). */
int sw_battery_dispatch(sw_battery *b, double dt_s, double demand_w, double solar_w,
                        double mci_g_per_kwh, sw_battery_steer steer, sw_battery_step *out,
                        sw_error *err);

/* The default steer: charge from the grid while it is curtailed (mci < threshold), discharge
 * while it is not. */
sw_battery_steer sw_battery_default_steer(double mci_g_per_kwh, double threshold_g_per_kwh);

/* Stored energy as a fraction of capacity. */
double sw_battery_soc(const sw_battery *b);

#endif
