"""benchmarks/dcgan_defaults.py's stability check: the rule that decides whether a recipe "stays good
when trained longer", on made-up curves."""
from helpers import load_script


def _bench():
    return load_script("benchmarks/dcgan_defaults.py")


def _curve(fids, minutes_per_point=10.0):
    return [{"step": 1000 * (i + 1), "cpu_s": 60 * minutes_per_point * (i + 1), "fid": f} for i, f in enumerate(fids)]


def test_a_late_rise_beyond_the_seed_spread_is_caught_and_a_flat_curve_passes():
    b = _bench()
    curves = {"0": _curve([90, 30, 20, 19, 18, 24]),  # at 30 min: 20; rises 6 above its best (18) at the end
              "1": _curve([80, 28, 22, 21, 21.5, 21]),  # wobbles by 0.5 after the budget
              "2": _curve([85, 35, 24, 23, 22, 22])}
    r = b.stability(curves, budget=30)
    assert r["fids"] == [20, 22, 24] and r["steps"] == [3000] * 3 and abs(r["spread"] - 2.0) < 1e-9
    assert r["seeds"]["0"] == {"rise": 6, "at": 6000, "best": 18, "held": False}
    assert r["seeds"]["1"]["rise"] == 0.5 and r["seeds"]["1"]["held"]
    assert r["seeds"]["2"]["rise"] == 0 and r["seeds"]["2"]["held"]
    # a rise before the budget does not count; a seed whose run ends at the budget has no verdict
    r = b.stability({"0": _curve([30, 50, 20, 20]), "1": _curve([30, 20, 21])}, budget=30)
    assert r["seeds"]["0"]["held"] and r["seeds"]["1"] is None
    assert b.stability({"0": _curve([30, 20], minutes_per_point=40)}, budget=30) is None  # nothing within 30 min
