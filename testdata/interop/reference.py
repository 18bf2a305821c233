#!/usr/bin/python3
"""Independent check of a dataman-conditioned MODS file, with astropy and numpy.

Usage: reference.py RAW CONDITIONED

Opens both files with astropy (checksums verified), recomputes dataMan
v1.2.4's otmProc from the raw quadrants with numpy -- median and population
standard deviation of the overscan box [2:-2, xtrim+2:nx], float64 raw minus
median, cast to float32, placed with the flips of the MODS quadrant mapping --
and prints a JSON report on stdout: every card astropy reads in every HDU, and
whether the MERGED pixels, the QnBIAS/QnSTD cards and the raw quadrant data
agree. Run it with Debian's /usr/bin/python3 (astropy 5.2, numpy 1.24).
"""
import json
import sys
import warnings

import numpy as np
from astropy.io import fits


def cards(header):
    out = []
    for card in header.cards:
        value = card.value
        if isinstance(value, bool):
            value = "T" if value else "F"
        elif isinstance(value, (int, float)):
            value = repr(value)
        elif value is None or isinstance(value, fits.card.Undefined):
            value = ""
        out.append([card.keyword, str(value), card.comment])
    return out


def otm(raw):
    nx = raw[1].header["NAXIS1"]
    ny = raw[1].header["NAXIS2"]
    xtrim = nx - raw[1].header["OVRSCAN1"]
    ims = [raw[i].data for i in (1, 2, 3, 4)]
    med = [np.median(im[2:-2, xtrim + 2:nx]) for im in ims]
    std = [np.std(im[2:-2, xtrim + 2:nx]) for im in ims]
    t = [im[:, :xtrim] - m for im, m in zip(ims, med)]
    mosaic = np.zeros((ny * 2, xtrim * 2), dtype=np.float32)
    mosaic[:ny, :xtrim] = np.flipud(t[2])
    mosaic[:ny, xtrim:] = np.flipud(np.fliplr(t[3]))
    mosaic[ny:, :xtrim] = np.flipud(t[0])
    mosaic[ny:, xtrim:] = np.flipud(np.fliplr(t[1]))
    # Q1..Q4 are IM3, IM4, IM1, IM2.
    order = (2, 3, 0, 1)
    return mosaic, [med[i] for i in order], [std[i] for i in order]


def main(raw_path, out_path):
    report = {"warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = fits.open(raw_path)
        out = fits.open(out_path, checksum=True)
        out.verify("exception")
        report["hdus"] = [{"name": h.name, "cards": cards(h.header)} for h in out]
        report["checksums_ok"] = all(
            h._checksum_valid and h._datasum_valid for h in out
        )
        mosaic, qbias, qstd = otm(raw)
        merged = out["MERGED"].data
        report["merged_shape"] = list(merged.shape)
        report["merged_dtype"] = str(merged.dtype)
        report["merged_identical"] = bool(
            merged.dtype.newbyteorder("=") == np.float32
            and np.array_equal(merged.astype(np.float32), mosaic)
            and merged.astype(">f4").tobytes() == mosaic.astype(">f4").tobytes()
        )
        h = out["MERGED"].header
        report["qbias_exact"] = all(h[f"Q{n+1}BIAS"] == qbias[n] for n in range(4))
        report["qstd_maxrel"] = max(
            abs(h[f"Q{n+1}STD"] - qstd[n]) / qstd[n] for n in range(4)
        )
        report["raw_quadrants_unchanged"] = all(
            np.array_equal(raw[i].data, out[i].data) for i in (1, 2, 3, 4)
        )
        report["conpars_unchanged"] = raw[5].data.tobytes() == out[5].data.tobytes()
        # Pixels at fixed places, for the Go side to compare with its own reader.
        ny, nx = merged.shape
        probes = [(0, 0), (ny - 1, nx - 1), (ny // 2, nx // 2), (ny // 2 - 1, nx // 2 - 1), (1, nx - 2)]
        report["probes"] = [[r, c, float(merged[r, c])] for r, c in probes]
        raw.close()
        out.close()
    report["warnings"] = [str(w.message) for w in caught]
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
