"""leaderboard, plot, map and export on a finished run, and the run command's defaults and
errors."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from search import export_module, load_leaderboard

pytestmark = pytest.mark.usefixtures("local_ray")  # one embedded Ray per module


# --- leaderboard, plot and export on a finished run -----------------------------------------


def test_leaderboard_command_formats(finished_run, capsys):
    from search.cli import main

    out, _ = finished_run
    assert main(["leaderboard", str(out), "--format", "csv", "--top", "3"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("rank,candidate_id") and len(rows) == 4
    assert main(["leaderboard", str(out), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["candidate_id"] for r in records} >= {"layernorm", "dyt"}
    assert main(["leaderboard", str(out), "--format", "md", "--task", "digits-vit"]) == 0
    assert "| rank | candidate |" in capsys.readouterr().out
    assert main(["leaderboard", str(out), "--task", "digits-vt"]) == 2
    assert "did you mean 'digits-vit'" in capsys.readouterr().err
    assert main(["leaderboard", str(out)]) == 0  # the default: a table that fits a terminal
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["#", "candidate", "s"]
    assert max(map(len, lines)) <= 100 and any("smoothsign" in x for x in lines)
    assert lines[6].startswith("digits-vit: ") and "tie group" in lines[6]
    assert main(["leaderboard", str(out), "--format", "wide"]) == 0
    assert "digits-vit mean" in capsys.readouterr().out


def test_plot_command_rewrites_the_plots(finished_run, capsys):
    from search.cli import main

    out, _ = finished_run
    (out / "plots" / "curves.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "plots" / "curves.png").stat().st_size > 1000
    assert "leaderboard.svg" in capsys.readouterr().out


def test_map_places_the_candidates_by_shape(finished_run, capsys):
    from candidates import shape_matrix
    from search.cli import main
    from search.reports import project

    out, _ = finished_run
    assert main(["map", str(out)]) == 0
    assert (out / "plots" / "map.png").stat().st_size > 1000
    assert "map.svg" in capsys.readouterr().out
    stored = pd.read_parquet(out / "candidates.parquet")
    matrix = shape_matrix(stored)  # the record's shape columns: the three functions
    assert set(matrix.index) == {"erf", "dyt", "cefaa8630b2d"}
    coords, share = project(matrix)
    assert coords.shape == (3, 2) and 0.5 < share.sum() <= 1.0 + 1e-9
    # erf and DyT's tanh are closer in shape than either is to softsign
    where = dict(zip(matrix.index, coords, strict=True))
    gap = {k: float(((where[k] - where["erf"]) ** 2).sum()) for k in ("dyt", "cefaa8630b2d")}
    assert gap["dyt"] < gap["cefaa8630b2d"]


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "shift"),
    [
        ("erf", "scalar"),
        ("dyt", None),
        ("power23clip", "vector"),
        ("satursin", "scalar"),
        ("logquadclip", "scalar"),
        ("cubsign", "scalar"),
        ("exproot", "scalar"),
    ],
)
def test_exported_module_matches_the_search_time_layer(tmp_path, name, shift):
    from evaluators import PointwiseNorm, make_norm

    path = export_module(tmp_path / f"{name}_norm.py", candidate=name)
    source = path.read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(str(node.module).split(".")[0])
    assert imported == {"__future__", "torch"}  # a standalone module: torch only
    module = _import(path)
    torch.manual_seed(0)
    kwargs = {} if name == "dyt" else {"shift": shift}
    exported = module.Norm(16, **kwargs)
    reference = (
        make_norm(name, 16, **kwargs) if name == "dyt" else PointwiseNorm(16, name, **kwargs)
    )
    reference.load_state_dict(exported.state_dict())  # same parameter names
    with torch.no_grad():
        for p in exported.parameters():
            p.add_(0.1 * torch.randn_like(p))
    reference.load_state_dict(exported.state_dict())
    x = torch.randn(3, 5, 16, dtype=torch.float32) * 3
    x[0, 0, :4] = torch.tensor([0.0, -0.0, 1e-30, -2.0])  # exact zero: infinite slopes there
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = exported(xa), reference(xb)
    assert torch.equal(ya, yb)
    ya.square().sum().backward()
    yb.square().sum().backward()
    assert torch.isfinite(xa.grad).all()
    assert torch.allclose(xa.grad, xb.grad, rtol=1e-6, atol=1e-7)
    for (na, pa), (nb, pb) in zip(
        exported.named_parameters(), reference.named_parameters(), strict=True
    ):
        assert na == nb and torch.allclose(pa.grad, pb.grad, rtol=1e-6, atol=1e-7), na


def test_export_by_rank_carries_the_leaderboard_figures(finished_run, tmp_path, capsys):
    from search.cli import main

    out, _ = finished_run
    board = load_leaderboard(out)
    rank = int(board.loc[board["candidate_id"] == "cefaa8630b2d", "rank"].iloc[0])
    target = tmp_path / "winner.py"
    assert main(["export", str(out), "--rank", str(rank), "-o", str(target)]) == 0
    text = target.read_text()
    assert "x/(1 + abs(x))" in text and f"(rank {rank})" in text and "digits-vit:" in text
    assert "class SmoothsignNorm(" in text  # the catalog's name, not the id
    assert "\\frac{x}" in text  # the LaTeX
    module = _import(target)
    assert module.Norm(4)(torch.ones(1, 4)).shape == (1, 4)
    ln_rank = int(board.loc[board["candidate_id"] == "layernorm", "rank"].iloc[0])
    assert main(["export", str(out), "--rank", str(ln_rank), "-o", str(tmp_path / "ln.py")]) == 2
    assert "normalization layer" in capsys.readouterr().err
    assert main(["export", str(out), "--rank", "99", "-o", str(tmp_path / "x.py")]) == 2


def test_run_command_defaults_and_errors(tmp_path, capsys):
    from search.cli import build_parser, main, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["run"]))
    assert settings.catalog == "paper" and settings.tasks == ("digits-dit",)
    assert settings.seeds == 3 and settings.out == "results/run"
    named = settings_from_args(
        build_parser().parse_args(["run", "--expr", "isru", "--out", "results/mine"])
    )
    assert named.catalog is None and named.study_name == "mine"
    assert main(["run", "--expr", "isru", "--task", "digits-vt", "--out", str(tmp_path)]) == 2
    assert "did you mean 'digits-vit'" in capsys.readouterr().err
    assert main(["run", "--expr", "isru", "--pruner", "medain", "--out", str(tmp_path)]) == 2
    assert "did you mean 'median'" in capsys.readouterr().err
    assert main(["run", "--expr", "isru", "--gpus-per-trial", "0.5", "--out", str(tmp_path)]) == 2
    assert "more GPUs than Ray sees (0)" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused runs leave nothing behind
