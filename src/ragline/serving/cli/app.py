"""The `ragline` command line: one Typer app; each command lives in its own module of
`ragline.serving.cli` and is thin (parse, call a service of `ragline.serving.services`, print).

    ragline ingest docs/ --collection docs
    ragline ask "How are point ids computed?" --collection docs
    ragline --config team.yaml costs report --by day

Exit codes: 0 done; 1 done, but some input failed (listed); 2 bad usage or settings.
Command modules import their heavy parts inside the command, so `ragline --help` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ragline.serving.cli.ask import ask_command
from ragline.serving.cli.chat import chat_command
from ragline.serving.cli.costs import costs_app
from ragline.serving.cli.evals import eval_command, synthesize_command
from ragline.serving.cli.ingest import collections_command, delete_command, ingest_command
from ragline.serving.cli.llm import llm_app
from ragline.serving.cli.ml.abtest import abtest_app
from ragline.serving.cli.ml.audit import audit_app
from ragline.serving.cli.ml.batch import ml_score_command
from ragline.serving.cli.ml.deploy import deploy_app
from ragline.serving.cli.ml.errors import errors_command
from ragline.serving.cli.ml.features import features_app
from ragline.serving.cli.ml.frame import frame_command
from ragline.serving.cli.ml.rollout import rollout_app
from ragline.serving.cli.ml.score import score_command
from ragline.serving.cli.ml.suggest import suggest_command
from ragline.serving.cli.ml.train import ml_app
from ragline.serving.cli.monitor import monitor_app
from ragline.serving.cli.pipeline import pipeline_app
from ragline.serving.cli.search import search_command
from ragline.serving.cli.serve import hash_key_command, serve_command
from ragline.serving.cli.store import store_app

app = typer.Typer(
    help="ragline: RAG, LLM routing, evals and classical ML, offline by default.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML settings file layered over configs/default.yaml"),
]


@app.callback()
def _main(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = config


app.command("ingest")(ingest_command)
app.command("collections")(collections_command)
app.command("delete")(delete_command)
app.command("search")(search_command)
app.command("ask")(ask_command)
app.command("chat")(chat_command)
app.command("serve")(serve_command)
app.command("eval")(eval_command)
app.command("synthesize")(synthesize_command)
app.command("hash-key")(hash_key_command)
app.command("score")(score_command)
app.command("frame")(frame_command)
app.add_typer(ml_app, name="ml")
app.add_typer(costs_app, name="costs")
app.add_typer(monitor_app, name="monitor")
app.add_typer(abtest_app, name="abtest")
app.add_typer(features_app, name="features")
app.add_typer(deploy_app, name="deploy")
app.add_typer(store_app, name="store")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(llm_app, name="llm")
ml_app.command("suggest")(suggest_command)
ml_app.command("score")(ml_score_command)
ml_app.command("errors")(errors_command)
ml_app.add_typer(audit_app, name="audit")
ml_app.add_typer(rollout_app, name="rollout")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
