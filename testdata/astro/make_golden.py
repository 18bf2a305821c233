#!/usr/bin/python3
"""Write golden.json: astropy's MJD, HJD and BJD for the cases below.

Reference values for the Go package internal/astro, which reproduces what
dataMan's fixDateTime computes with astropy (spec section 5.3), without astropy
and without network.

Run with Debian's interpreter and astropy 5.2.1, from anywhere:

    /usr/bin/python3 testdata/astro/make_golden.py

What it does, exactly:

- Never touches the network. astropy.utils.iers.conf.auto_download = False
  makes astropy use only the IERS-B table and leap-second file shipped inside
  the astropy package; auto_max_age = None stops it asking for fresher ones;
  iers_degraded_accuracy = 'warn' lets it compute dates past the end of that
  IERS-B table (2023 onwards) with UT1-UTC held at the table's last value and
  the 50-year mean polar motion instead of raising. These degrade the result
  by at most a few microseconds, far below what the Go tests check. All
  warnings are silenced; those it gives are that degraded accuracy, the
  default polar motion, ERFA's "dubious year" past its leap-second table's
  release, and astropy's IllegalHourWarning for the RA 24:00:00 case. Output is
  deterministic: a second run writes the same bytes.
- Sites are built with EarthLocation.from_geodetic(lon, lat, height) on the
  WGS84 ellipsoid from the numbers in SITES; EarthLocation.of_site is never
  used (it would download astropy's site registry).
- For every case, as fixDateTime does:
    mjd = Time(iso, scale='utc').mjd
    t   = Time(iso, scale='utc', location=site)
    c   = SkyCoord(ra, dec, unit=(hourangle, deg), frame='icrs')
    hjd = (t.utc + t.light_travel_time(c, 'heliocentric', location=site)).mjd
    bjd = (t.tdb + t.light_travel_time(c, 'barycentric', location=site)).mjd
  with astropy's builtin (ERFA epv00) solar-system ephemeris.
- ra_deg and dec_deg are astropy's own reading of the ra and dec strings, so
  they also check the Go sexagesimal parser.
- Writes golden.json next to this script (floats in shortest round-trip form).
"""

import json
import os
import sys
import warnings

import astropy
import astropy.units as u
from astropy.coordinates import EarthLocation, SkyCoord, solar_system_ephemeris
from astropy.time import Time
from astropy.utils import iers

iers.conf.auto_download = False
iers.conf.auto_max_age = None
iers.conf.iers_degraded_accuracy = "warn"
warnings.simplefilter("ignore")

# name: (lat deg N, lon deg E, height m)
SITES = {
    # dataman's default (spec 13 row 4): 32.70131 N, 109.88906 W, 3221 m.
    "LBT": (32.70131, -109.88906, 3221.0),
    # astropy's site-registry numbers for "lbt", which dataMan used (spec 5.3).
    "LBT-astropy": (32.7016, -109.8719, 2902.0),
    # Two more sites, to exercise other latitudes and hemispheres.
    "MaunaKea": (19.8253, -155.4694, 4204.0),
    "Paranal": (-24.6272, -70.4042, 2635.0),
}

# (iso, ra in hours, dec in degrees, site)
CASES = [
    # spec 5.3 example, at dataman's LBT and at astropy's LBT
    ("2026-01-19T03:12:45.678", "02:42:40.771", "-00:00:47.84", "LBT"),
    ("2026-01-19T03:12:45.678", "02:42:40.771", "-00:00:47.84", "LBT-astropy"),
    # leap second: just before the one at the end of 2016, and inside it
    ("2016-12-31T23:59:59.5", "06:45:08.917", "-16:42:58.02", "LBT"),
    ("2016-12-31T23:59:59.5", "18:00:00", "+66:33:38.6", "LBT"),
    ("2016-12-31T23:59:60.25", "12:00:00", "+00:00:00", "LBT"),
    ("2017-01-01T00:00:00", "00:00:00", "+00:00:00", "LBT"),
    # near the poles
    ("2020-01-01T00:00:00", "00:00:00", "+89:59:59.9", "LBT"),
    ("2020-06-15T06:30:00.5", "13:10:20.3", "-89:59:30", "LBT"),
    ("2024-03-20T03:06:00", "02:31:49.09", "+89:15:50.8", "LBT"),
    ("2027-09-09T09:09:09.909", "21:08:46.86", "-88:57:23.4", "Paranal"),
    ("2029-12-21T15:21:00", "06:00:00", "+90:00:00", "MaunaKea"),
    ("2030-06-21T08:00:00", "18:00:00", "-90:00:00", "Paranal"),
    # near the ecliptic (including the Sun's direction at that date)
    ("2020-03-20T03:50:00", "00:00:00.5", "+00:00:03", "LBT"),
    ("2020-06-20T21:43:40", "06:00:00", "+23:26:12", "LBT"),
    ("2021-09-22T19:21:00", "12:00:00", "-00:00:10", "MaunaKea"),
    ("2022-12-21T21:48:00", "18:00:00", "-23:26:10", "Paranal"),
    ("2023-02-14T04:00:00", "10:08:22.3", "+11:58:02", "LBT"),
    ("2025-05-05T05:05:05.05", "15:00:00", "-17:00:00", "LBT"),
    ("2028-08-08T08:08:08.808", "21:30:00", "-15:00:00", "MaunaKea"),
    ("2030-11-11T11:11:11.111", "04:35:55.2", "+16:30:33", "LBT"),
    # RA at 0h and just under 24h
    ("2021-01-01T12:00:00", "00:00:00", "+45:00:00", "LBT"),
    ("2021-01-01T12:00:00", "23:59:59.999", "+45:00:00", "LBT"),
    ("2023-10-01T07:00:00", "00:00:00.001", "-30:00:00", "Paranal"),
    ("2023-10-01T07:00:00", "23:59:59.99", "-30:00:00", "Paranal"),
    ("2026-07-04T04:04:04.4", "24:00:00", "+10:00:00", "LBT"),
    # spread over 2020-2030, various forms of the angle strings
    ("2020-02-29T23:59:59.999", "05:35:17.3", "-05:23:28", "LBT"),
    ("2020-09-30T10:20:30.405", "19:50:47.0", "+08:52:06", "MaunaKea"),
    ("2021-04-18T01:02:03.04", "16:29:24.46", "-26:25:55.2", "Paranal"),
    ("2021-12-31T23:59:59.9", "03:47:24", "+24:07:00", "LBT"),
    ("2022-03-01T00:00:00.001", "08:40:06", "+19:40:00", "LBT"),
    ("2022-07-15T18:45:12.345", "13:25:11.58", "-11:09:40.8", "Paranal"),
    ("2023-06-21T12:00:00", "14:15:39.7", "+19:10:57", "MaunaKea"),
    ("2024-02-29T06:00:00.25", "01:33:50.02", "+30:39:36.7", "LBT"),
    ("2024-08-12T04:30:15", "20:41:25.9", "+45:16:49", "LBT"),
    ("2024-12-31T23:00:00", "11:03:43.67", "+61:45:03.7", "LBT"),
    ("2025-03-14T15:09:26.535", "09:55:33.2", "+69:03:55", "LBT"),
    ("2025-10-31T02:15:00", "00:42:44.3", "+41:16:09", "LBT"),
    ("2026-01-19T03:12:45.678", "02 42 40.771", "-00 00 47.84", "LBT"),
    ("2026-01-19T03:12:45.678", "2h42m40.771s", "-0d0m47.84s", "LBT"),
    ("2026-04-01T11:59:59.999", "2.7113253", "-0.0132889", "LBT"),
    ("2026-12-31T23:59:59.5", "17:45:40.04", "-29:00:28.1", "Paranal"),
    ("2027-03-03T03:03:03.03", "06:45:08.917", "-16:42:58.02", "MaunaKea"),
    ("2027-11-20T10:00:00", "22:57:39.05", "-29:37:20.1", "LBT"),
    ("2028-02-29T12:34:56.789", "12:30:49.42", "+12:23:28.0", "LBT"),
    ("2028-10-10T10:10:10.1", "05:14:32.27", "-08:12:05.9", "Paranal"),
    ("2029-01-01T00:00:00", "07:39:18.1", "+05:13:30", "LBT"),
    ("2029-07-20T20:17:40", "14:39:36.5", "-60:50:02", "Paranal"),
    ("2030-03-31T01:00:00.123", "18:36:56.34", "+38:47:01.3", "LBT"),
    ("2030-12-31T23:59:59.999", "03:19:48.16", "+41:30:42.1", "MaunaKea"),
]


def main():
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    locations = {
        name: EarthLocation.from_geodetic(lon * u.deg, lat * u.deg, h * u.m)
        for name, (lat, lon, h) in SITES.items()
    }
    cases = []
    with solar_system_ephemeris.set("builtin"):
        for iso, ra, dec, site_name in CASES:
            site = locations[site_name]
            target = SkyCoord(ra, dec, unit=(u.hourangle, u.deg), frame="icrs")
            t = Time(iso, format="isot", scale="utc", location=site)
            helio = t.light_travel_time(target, "heliocentric", location=site)
            bary = t.light_travel_time(target, "barycentric", location=site)
            lat, lon, h = SITES[site_name]
            cases.append(
                {
                    "iso": iso,
                    "ra": ra,
                    "dec": dec,
                    "ra_deg": float(target.ra.deg),
                    "dec_deg": float(target.dec.deg),
                    "site": {"name": site_name, "lat_deg": lat, "lon_east_deg": lon, "height_m": h},
                    "mjd": float(Time(iso, format="isot", scale="utc").mjd),
                    "hjd": float((t.utc + helio).mjd),
                    "bjd": float((t.tdb + bary).mjd),
                }
            )
    doc = {
        "generator": "testdata/astro/make_golden.py",
        "astropy": astropy.__version__,
        "cases": cases,
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
