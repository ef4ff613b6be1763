/* Tests of core/battery: the dispatch rule (solar first, then battery or grid), its limits, and
 * conservation of energy and of carbon at every step of a day with solar and a varying grid. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/battery.h"

static const sw_battery_config cfg = {.capacity_wh = 10000,
                                      .max_charge_w = 3000,
                                      .max_discharge_w = 2500,
                                      .round_trip_efficiency = 0.81,
                                      .soc_min = 0.1,
                                      .soc_max = 0.9,
                                      .soc_initial = 0.5};

Test(battery, energy_and_carbon_are_conserved_at_every_step)
{
    sw_battery b;
    sw_error err;
    cr_assert_eq(sw_battery_init(&b, &cfg, "battery", &err), SW_OK, "%s", err.msg);
    double dt = 300, grid_g = 0, load_g = 0, carbon0 = b.stored_carbon_g;
    for (int k = 0; k < 288; k++) { /* one day of 5-min steps */
        double hour = k * dt / 3600;
        double solar =
            fmax(0, 4000 * sin((hour - 6) / 12 * 3.14159265358979)); /* 4 kWp, 06:00-18:00 */
        double demand = (k / 12) % 3 ? 2024 : 468;                   /* training or idle */
        double mci = (k / 24) % 2 ? 20 : 450;                        /* curtailed half the time */
        sw_battery_step s;
        cr_assert_eq(sw_battery_dispatch(&b, dt, demand, solar, mci,
                                         sw_battery_default_steer(mci, 100), &s, &err),
                     SW_OK, "%s", err.msg);
        double lhs = s.grid_w + s.solar_w + s.discharge_w;
        double rhs = s.demand_w + s.charge_w + s.spilled_w + s.discharge_loss_w;
        cr_assert_float_eq(lhs, rhs, 1e-6, "step %d: %g != %g", k, lhs, rhs);
        cr_assert_float_eq(s.stored_wh_after - s.stored_wh_before,
                           (sqrt(0.81) * s.charge_w - s.discharge_w) * dt / 3600, 1e-6, "step %d",
                           k);
        cr_assert_float_eq(s.solar_to_load_w + s.battery_to_load_w + s.grid_to_load_w, demand, 1e-6,
                           "demand served, step %d", k);
        cr_assert_leq(s.charge_w, cfg.max_charge_w + 1e-9);
        cr_assert_leq(s.discharge_w, cfg.max_discharge_w + 1e-9);
        cr_assert(s.charge_w == 0 || s.discharge_w == 0, "no charging while discharging");
        double soc = sw_battery_soc(&b);
        cr_assert(soc >= cfg.soc_min - 1e-9 && soc <= cfg.soc_max + 1e-9, "soc %g", soc);
        grid_g += s.grid_carbon_g;
        load_g += s.load_carbon_g;
        cr_assert_float_eq(load_g + b.stored_carbon_g - carbon0, grid_g, 1e-6, "carbon, step %d",
                           k);
    }
    cr_assert_gt(grid_g, 0);
}

Test(battery, solar_first_then_battery_then_grid)
{
    sw_battery b;
    sw_error err;
    cr_assert_eq(sw_battery_init(&b, &cfg, "battery", &err), SW_OK);
    sw_battery_step s;
    /* plenty of sun: the load is served by solar, the surplus charges up to the limit */
    cr_assert_eq(sw_battery_dispatch(&b, 300, 2000, 6000, 400, (sw_battery_steer){0, 1}, &s, &err),
                 SW_OK);
    cr_assert_float_eq(s.solar_to_load_w, 2000, 1e-9);
    cr_assert_float_eq(s.solar_to_battery_w, 3000, 1e-9);
    cr_assert_float_eq(s.spilled_w, 1000, 1e-9);
    cr_assert_eq(s.grid_w, 0);
    cr_assert_eq(s.load_carbon_g, 0);
    /* night, dirty grid, discharge allowed: the battery serves up to its limit */
    cr_assert_eq(sw_battery_dispatch(&b, 300, 3000, 0, 400, (sw_battery_steer){0, 1}, &s, &err),
                 SW_OK);
    cr_assert_float_eq(s.discharge_w, 2500, 1e-9);
    cr_assert_float_eq(s.grid_to_load_w, 3000 - 0.9 * 2500, 1e-9);
    /* curtailed grid: charge from it, and the stored energy carries its carbon */
    sw_battery c;
    cr_assert_eq(sw_battery_init(&c, &cfg, "battery", &err), SW_OK);
    cr_assert_eq(sw_battery_dispatch(&c, 3600, 0, 0, 50, (sw_battery_steer){1, 0}, &s, &err),
                 SW_OK);
    cr_assert_float_eq(s.grid_to_battery_w, 3000, 1e-9);
    cr_assert_float_eq(c.stored_carbon_g, 3.0 * 50, 1e-9); /* 3 kWh at 50 g/kWh */
    cr_assert_eq(s.load_carbon_g, 0);
}

Test(battery, configuration_errors_name_the_field)
{
    sw_battery b;
    sw_error err;
    sw_battery_config c = cfg;
    c.round_trip_efficiency = 1.2;
    cr_assert_eq(sw_battery_init(&b, &c, "sites[0].battery", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "sites[0].battery.round_trip_efficiency"), "%s", err.msg);
    c = cfg;
    c.soc_initial = 0.95;
    cr_assert_eq(sw_battery_init(&b, &c, "battery", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "battery.soc_initial"), "%s", err.msg);
    c = cfg;
    c.capacity_wh = 0;
    cr_assert_eq(sw_battery_init(&b, &c, "battery", &err), SW_EINPUT);
    cr_assert(strstr(err.msg, "battery.capacity_wh"), "%s", err.msg);
}
