"""Stand-ins for terraform, ansible, ansible-playbook, kubectl, docker, aws, uv and getent, for running
scripts/auto-rebuild.sh end to end here: each call is appended to $FAKE_LOG as one JSON line (tool, argv,
working directory) and answered the way the real tool answers the script's questions.

What the world looks like is set through the environment:
  FAKE_ENVIRONMENT     file whose text `terraform output -raw kustomize_environment` prints
  FAKE_OLD_CLUSTER     "up": the old cluster's API server answers; anything else: it does not
  FAKE_ECR_TAGS        space-separated "repository:tag" that `aws ecr describe-images` finds
  FAKE_LEFTOVER_ALBS   space-separated load balancer ARNs the tagging API still lists
  REAL_KUBECTL         the real kubectl, for the read-only `kubectl kustomize`
Usage (through a one-line wrapper per tool name): python fake_tools.py TOOL ARGS...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ALB = "k8s-ecoeco-0123456789.ap-northeast-2.elb.amazonaws.com"
API_URL = "https://api.ecoeco.example.com"


def answer(tool: str, args: list[str]) -> int:
    env = os.environ
    if tool == "kubectl" and "kustomize" in args:
        os.execv(env["REAL_KUBECTL"], ["kubectl", *args])  # noqa: S606 - the real kubectl, read-only
    if tool == "terraform" and "output" in args:
        what = args[-1]
        if what == "kustomize_environment":
            sys.stdout.write(Path(env["FAKE_ENVIRONMENT"]).read_text())
        elif what == "ansible_inventory":
            sys.stdout.write("all:\n  children: {}\n")
        elif what == "api_url":
            sys.stdout.write(API_URL)
        return 0
    if tool == "kubectl" and "/readyz" in args:
        return 0 if env.get("FAKE_OLD_CLUSTER") == "up" else 1
    if tool == "kubectl" and args[:3] == ["-n", "ecoeco", "get"]:
        sys.stdout.write(ALB)
        return 0
    if tool == "aws" and args[:2] == ["ecr", "describe-images"]:
        repo = args[args.index("--repository-name") + 1]
        tag = args[args.index("--image-ids") + 1].removeprefix("imageTag=")
        if f"{repo}:{tag}" in env.get("FAKE_ECR_TAGS", "").split():
            return 0
        sys.stderr.write("An error occurred (ImageNotFoundException)\n")
        return 254
    if tool == "aws" and args[:2] == ["ecr", "get-login-password"]:
        sys.stdout.write("fake-password")
        return 0
    if tool == "aws" and args[:1] == ["resourcegroupstaggingapi"]:
        kind = args[args.index("--resource-type-filters") + 1]
        sys.stdout.write(env.get("FAKE_LEFTOVER_ALBS", "") if kind.endswith(":loadbalancer") else "")
        return 0
    if tool == "docker" and args[:1] == ["login"]:
        sys.stdin.read()
        return 0
    if tool == "getent":
        sys.stdout.write(f"192.0.2.10      STREAM {args[-1]}\n")
        return 0
    return 0


def main() -> int:
    tool, args = sys.argv[1], sys.argv[2:]
    with open(os.environ["FAKE_LOG"], "a") as log:
        log.write(json.dumps({"tool": tool, "args": args, "cwd": os.getcwd()}) + "\n")
    return answer(tool, args)


if __name__ == "__main__":
    sys.exit(main())
