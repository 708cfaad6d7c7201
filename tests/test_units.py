"""Units of columns (pint): headers, --units, dimensional consistency and the
Buckingham-pi reduction that discovery tries."""
from __future__ import annotations

import numpy as np
import pytest
import sympy

from kanstudio.data import load_csv
from kanstudio.data.errors import DataError
from kanstudio.data.units import parse_units_option, split_header_unit
from kanstudio.discovery.units import Dimensions, pi_reduction


def test_units_are_read_from_headers_and_unknown_suffixes_stay_in_the_name(tmp_path):
    assert split_header_unit("v [m/s]") == ("v", "m/s")
    assert split_header_unit("m (kg)") == ("m", "kg")
    assert split_header_unit("run (2)") == ("run (2)", None)
    assert split_header_unit("temp (old)") == ("temp (old)", None)
    assert split_header_unit("plain") == ("plain", None)
    csv = tmp_path / "t.csv"
    csv.write_text("v [m/s],m (kg),note (old),E [J]\n1,2,3,1\n2,3,4,6\n3,4,5,18\n4,5,6,40\n")
    ds = load_csv(csv, target="E")
    assert ds.input_names == ["v", "m", "note (old)"]
    assert ds.units == {"v": "m/s", "m": "kg", "E": "J"}
    assert type(ds).from_dict(ds.to_dict(), ds.X, ds.Y).units == ds.units     # saved with a project


def test_two_headers_that_would_collide_keep_their_full_names(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("x [m],x [s],y\n1,2,3\n2,3,4\n3,4,5\n")
    ds = load_csv(csv, target="y")
    assert ds.input_names == ["x [m]", "x [s]"] and ds.units == {}


def test_the_units_option_is_checked():
    assert parse_units_option("v=m/s, m=kg", ["v", "m"]) == {"v": "m/s", "m": "kg"}
    for bad in ("v", "v=", "w=m", "v=furlongs_per_blorp", "v=2"):
        with pytest.raises(DataError):
            parse_units_option(bad, ["v", "m"])


def test_a_dimensionally_wrong_candidate_is_rejected():
    v, t, x, m = sympy.symbols("v t x m", positive=True)
    dims = Dimensions({"v": "m/s", "t": "s", "x": "m", "m": "kg"}, {"v": v, "t": t, "x": x, "m": m}, "m")
    assert dims.consistent(v * t + x)
    assert dims.consistent(sympy.Float(2.5) * t + x)        # a fitted constant may carry a unit
    assert not dims.consistent(x + t)                        # metres plus seconds
    assert not dims.consistent(x * sympy.sin(v))             # sin of a speed
    assert dims.consistent(x * sympy.sin(sympy.Float(0.3) * v))
    assert not dims.consistent(v * t * m)                    # kg*m where metres are asked for
    assert not dims.consistent(x ** v)


def test_pi_groups_reduce_a_relativistic_energy_to_one_variable():
    m, v, c = sympy.symbols("m v c", positive=True)
    red = pi_reduction({"m": "kg", "v": "m/s", "c": "m/s"}, ["m", "v", "c"], [m, v, c], "E", "J")
    assert red is not None and len(red.groups) == 1
    # the prefactor carries the energy's units, the group none
    dims = Dimensions({"m": "kg", "v": "m/s", "c": "m/s"}, {"m": m, "v": v, "c": c}, "J")
    assert dims.consistent(red.prefactor)
    g = red.groups[0]
    assert sympy.simplify(g - v / c) == 0 or sympy.simplify(g - c / v) == 0
    X = np.array([[2.0, 1.0, 4.0]])
    assert red.values(X, [m, v, c]).shape == (1, 1)
    # no units, or no fewer groups than inputs: no reduction
    assert pi_reduction({"m": "kg"}, ["m", "v"], [m, v], "E", "J") is None
