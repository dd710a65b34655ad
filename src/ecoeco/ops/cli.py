"""``ecoeco verify``: check a deployed cluster against the production checklist (see ops/verify.py)."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer


def register(app: typer.Typer) -> None:
    app.command()(verify)


def verify(
    ingress_url: Annotated[str, typer.Option(help="Public base URL of the API (terraform output api_url).")],
    rabbitmq_url: Annotated[
        str,
        typer.Option(help="RabbitMQ management API (kubectl -n messaging port-forward svc/rabbitmq 15672)."),
    ] = "http://127.0.0.1:15672",
    kubeconfig: Annotated[str | None, typer.Option(help="kubeconfig file; default: $KUBECONFIG.")] = None,
    context: Annotated[str | None, typer.Option(help="kubeconfig context.")] = None,
    nodes: Annotated[int, typer.Option(help="How many Ready nodes to expect.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds for each HTTP call.")] = 10.0,
) -> None:
    """Verify a production cluster tier by tier; exit 1 if anything is missing or unhealthy."""
    # Imported here: the Kubernetes client adds ~0.5 s to every other command's start-up.
    from kubernetes import config as k8s_config

    from ecoeco.ops.verify import Expected, Verifier

    api = k8s_config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
    try:
        with httpx.Client(timeout=timeout) as http:
            expected = Expected(nodes=nodes)
            verifier = Verifier(
                api, rabbitmq_url=rabbitmq_url, ingress_url=ingress_url, http=http, expected=expected
            )
            report = verifier.run()
    finally:
        api.close()
    typer.echo(report.render())
    if not report.ok:
        raise typer.Exit(1)
