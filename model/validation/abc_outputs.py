"""What ``chipstack calibrate`` writes from pyabc's database (docs/VALIDATION.md §3.6):
``posterior.parquet`` (the last generation's particles and weights), ``posterior.csv`` (per parameter: the
prior's and the posterior's median and 90% interval, their width ratio, the ESS), ``predictive.csv`` (the
posterior predictive of every target against the record, with its coverage), the figures and
``manifest.json`` (versions, commit, the file's hash, every generation's ε and acceptance).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import time
from pathlib import Path

import numpy as np
import pandas as pd

from model.core.paths import REQUIREMENTS_LOCK
from model.sweep.errors import UsageError, shown
from model.sweep.io import sha256_or_none, utc_now, write_atomic
from model.sweep.manifest import MANIFEST, Manifest
from model.sweep.provenance import git_state, package_versions, platform_info
from model.validation.abc import POSTERIOR_PARQUET, simulate
from model.validation.abc_spec import CalibrationSpec

#: Identifiability: a parameter whose posterior 90% interval is below this share of its prior's is
#: "informed" by the record; above WEAK, it stays "at its prior"; between them "weakly informed".
INFORMED, WEAK = 0.5, 0.8
#: Draws of the posterior re-simulated (fresh seeds) for the predictive; the prior's Monte Carlo size.
PREDICTIVE_DRAWS, PRIOR_DRAWS = 200, 20_000


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    """Quantiles of a weighted sample (the inverse of its weighted empirical CDF, midpoint rule)."""
    order = np.argsort(values)
    v, w = np.asarray(values, float)[order], np.asarray(weights, float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(qs, cdf, v)


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's ESS, (sum w)^2 / sum w^2."""
    w = np.asarray(weights, float)
    return float(w.sum() ** 2 / (w * w).sum())


def posterior_frame(history) -> pd.DataFrame:
    """The last generation's particles: one column per parameter, then ``weight`` (summing to 1)."""
    frame, weights = history.get_distribution(m=0, t=history.max_t)
    out = frame.reset_index(drop=True).astype(float)
    out.columns = [str(c) for c in out.columns]
    out["weight"] = np.asarray(weights, float) / np.sum(weights)
    return out


def summary_table(spec: CalibrationSpec, posterior: pd.DataFrame, prior: pd.DataFrame, history
                  ) -> pd.DataFrame:
    """posterior.csv: per parameter, prior and posterior median and 90% interval, the width ratio
    (posterior 90% width / prior 90% width) and what it says, the ESS, the generation and its ε."""
    w = posterior["weight"].to_numpy()
    ess = effective_sample_size(w)
    populations = history.get_all_populations()
    last = populations[populations["t"] == history.max_t].iloc[0]
    rows = []
    for p in spec.priors:
        pq = np.quantile(prior[p.name].to_numpy(), [0.05, 0.5, 0.95])
        q = weighted_quantiles(posterior[p.name].to_numpy(), w, [0.05, 0.5, 0.95])
        ratio = float((q[2] - q[0]) / (pq[2] - pq[0]))
        verdict = "informed" if ratio < INFORMED else ("weakly informed" if ratio < WEAK else "at its prior")
        rows.append({"parameter": p.name, "prior": f"{p.distribution}({p.low:g}, {p.high:g})",
                     "prior_median": pq[1], "prior_q05": pq[0], "prior_q95": pq[2],
                     "posterior_median": q[1], "posterior_q05": q[0], "posterior_q95": q[2],
                     "width_ratio": ratio, "identifiability": verdict, "ess": ess,
                     "particles": len(posterior), "generation": int(history.max_t),
                     "epsilon": float(last["epsilon"]), "source": p.source})
    return pd.DataFrame(rows)


def predictive_table(spec: CalibrationSpec, posterior: pd.DataFrame, draws: int = PREDICTIVE_DRAWS
                     ) -> pd.DataFrame:
    """The posterior predictive of every target: ``draws`` particles drawn by weight and re-run with fresh
    seeds (the root seed + 1), then the measurement error added (log-normal for log-scale targets,
    normal for linear ones). ``covered``: the record lies in the predictive's 90% interval."""
    rng = np.random.default_rng(spec.seed + 1)
    names = spec.names
    picks = rng.choice(len(posterior), size=draws, replace=True, p=posterior["weight"].to_numpy())
    fresh = dataclasses.replace(spec, seed=spec.seed + 1)
    sims = pd.DataFrame([simulate(fresh, posterior.iloc[i][names].to_dict()) for i in picks])
    rows = []
    for t in spec.targets:
        model = sims[t.key].to_numpy(float)
        z = rng.standard_normal(len(model))
        noisy = (np.exp(np.log(np.maximum(model, t.observed * 1e-3)) + t.error * z) if t.scale == "log"
                 else model + t.error * z)
        mq = np.nanquantile(model, [0.05, 0.5, 0.95])
        nq = np.nanquantile(noisy, [0.05, 0.95])
        rows.append({"target": t.key, "quantity": t.quantity, "period": t.period, "observed": t.observed,
                     "grade": t.grade, "scale": t.scale, "error": t.error,
                     "model_median": mq[1], "model_q05": mq[0], "model_q95": mq[2],
                     "predictive_q05": nq[0], "predictive_q95": nq[1],
                     "covered": bool(nq[0] <= t.observed <= nq[1]), "why": t.why})
    return pd.DataFrame(rows)


def start_manifest(spec: CalibrationSpec, out: Path, resume: bool) -> Manifest:
    """The folder's manifest at the start (status "running"); on resume the folder's must be of the same
    calibration (the file's fingerprint)."""
    path = out / MANIFEST
    if resume and path.is_file():
        manifest = Manifest.load(out)
        if manifest.data.get("fingerprint") != spec.fingerprint():
            raise UsageError(f"--resume: {shown(str(path))} is of another calibration (fingerprint "
                             f"{str(manifest.data.get('fingerprint'))[:12]}, the file's "
                             f"{spec.fingerprint()[:12]}); "
                             f"allowed: the folder of the same calibration file, or a new --out")
        manifest.data.setdefault("sessions", []).append(utc_now())
        manifest.write([], status="running")
        return manifest
    versions = package_versions()
    try:
        versions["pyabc"] = importlib.metadata.version("pyabc")
    except importlib.metadata.PackageNotFoundError:
        versions["pyabc"] = None
    data = {"chipstack_calibration": 1, "status": "running", "name": spec.name,
            "description": spec.description, "source": spec.source,
            "source_sha256": sha256_or_none(spec.source),
            "spec": spec.data, "fingerprint": spec.fingerprint(), "parameters": spec.names,
            "targets": [t.key for t in spec.targets], "versions": versions, "git": git_state(),
            "platform": platform_info(), "requirements_lock_sha256": sha256_or_none(REQUIREMENTS_LOCK),
            "sampler": "pyabc SingleCoreSampler", "started": utc_now(), "sessions": [utc_now()], "files": {}}
    manifest = Manifest(out, data)
    manifest.write([], status="running")
    return manifest


def finish(spec: CalibrationSpec, out: Path, history, manifest: Manifest, seconds: float) -> dict:
    """Write the posterior, its summaries, the figures and the completed manifest; returns what the
    command prints (the summary table, the coverage, the folder)."""
    from model.validation.abc import DB, prior_sample
    from model.validation.abc_figures import predictive_figure, prior_posterior_figure

    t0 = time.perf_counter()
    posterior = posterior_frame(history)
    prior = prior_sample(spec, PRIOR_DRAWS, spec.seed)
    summary = summary_table(spec, posterior, prior, history)
    predictive = predictive_table(spec, posterior)
    files = [out / POSTERIOR_PARQUET, out / "posterior.csv", out / "predictive.csv"]
    write_atomic(files[0], lambda p: posterior.to_parquet(p, index=False))
    write_atomic(files[1], lambda p: summary.to_csv(p, index=False))
    write_atomic(files[2], lambda p: predictive.to_csv(p, index=False))
    figures = out / "figures"
    figures.mkdir(exist_ok=True)
    for name, fig in (("prior_posterior.png", prior_posterior_figure(spec, posterior, prior)),
                      ("predictive.png", predictive_figure(predictive))):
        write_atomic(figures / name, lambda p, f=fig: f.savefig(p, dpi=110, format="png"))
        files.append(figures / name)
    populations = history.get_all_populations()
    manifest.data["generations"] = [
        {"t": int(r.t), "epsilon": float(r.epsilon), "simulations": int(r.samples),
         "particles": int(r.particles)}
        for r in populations.itertuples() if r.t >= 0]
    manifest.data["simulations"] = int(populations["samples"].sum())
    manifest.data["coverage_90"] = float(predictive["covered"].mean())
    manifest.data["ess"] = float(summary["ess"].iloc[0])
    manifest.data.setdefault("seconds", []).append(round(seconds + time.perf_counter() - t0, 1))
    manifest.data["finished"] = utc_now()
    manifest.write(files + [out / DB], status="complete")
    return {"summary": summary, "predictive": predictive, "out": out}


def summary_text(result: dict) -> str:
    s, pred = result["summary"], result["predictive"]
    lines = [f"{'parameter':<28} {'prior median [90%]':>30} {'posterior median [90%]':>30} "
             f"{'ratio':>6}  verdict"]
    for r in s.itertuples():
        prior = f"{r.prior_median:.4g} [{r.prior_q05:.4g}, {r.prior_q95:.4g}]"
        post = f"{r.posterior_median:.4g} [{r.posterior_q05:.4g}, {r.posterior_q95:.4g}]"
        lines.append(f"{r.parameter:<28} {prior:>30} {post:>30} {r.width_ratio:>6.2f}  {r.identifiability}")
    first = s.iloc[0]
    lines.append(f"generation {first.generation}, epsilon {first.epsilon:.4g}, {first.particles} particles, "
                 f"ESS {first.ess:.1f}; the record inside the 90% posterior predictive interval for "
                 f"{int(pred['covered'].sum())} of {len(pred)} targets; written to {result['out']}")
    return "\n".join(lines)
