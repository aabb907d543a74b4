"""Point a BentoCloud deployment at a Bento, wait until it serves, and print its URL.

deploy.yml's staging and production jobs call it (and the production job again with the previous
Bento to roll back). It reads BENTO_CLOUD_API_KEY and BENTO_CLOUD_API_ENDPOINT from the environment.

Usage: python -m mlops.serving.bentocloud DEPLOYMENT mlops-service:<version> [--timeout 1800]
"""

from __future__ import annotations

import argparse

from mlops.errors import UserError, cli


def deploy(name: str, bento: str, timeout: int) -> str:
    """Create the deployment, or move it to ``bento``; its endpoint once ready."""
    import bentoml

    deployment = bentoml.deployment.apply(name=name, bento=bento)  # creates it the first time
    if deployment.wait_until_ready(timeout=timeout):  # non-zero: not ready in time
        raise UserError(f"The BentoCloud deployment {name} was not ready with {bento} within {timeout} s.")
    return deployment.get_endpoint_urls()[0]


@cli
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("deployment", help="the BentoCloud deployment's name, e.g. mlops-service")
    parser.add_argument("bento", help="the Bento to serve, e.g. mlops-service:<model md5>")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait until it is ready")
    args = parser.parse_args()
    print(deploy(args.deployment, args.bento, args.timeout))


if __name__ == "__main__":
    main()
