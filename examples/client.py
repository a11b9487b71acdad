#!/usr/bin/env python3
"""A client of agent-batcher in plain Python (standard library only): sends N concurrent
multi-agent requests, and checks every answer against the simulated backend's exact formula (given in
the README's "Example" section), agent by agent.

    python3 examples/client.py --url http://127.0.0.1:8000 --clients 20 --agents 4 [--key TOKEN]

Its agents use what the service serves (GET /models): with MODELS_FILE=examples/models.json, the
listed models, their agent types and vector lengths (but a model computed by ONNX Runtime in the
actor threads, or behind a model server's protocol, whose values are not the formula). Exit code
0 when every prediction is exact, 1 otherwise, 2 when the service cannot be reached or serves
nothing this client can check.
"""

import argparse
import json
import os
import random
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def fnv1a32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) % 2**32
    return h


def expected(model: str, agent_type: str, vector: list) -> float:
    bias = fnv1a32(f"{model}\n{agent_type}".encode()) / 2**32
    total = 0.0
    for i, x in enumerate(vector):
        total += (i + 1) * x
    return bias + total


EXAMPLE_MODELS = ["resnet-50", "gpt-mini", "bert-base"]
EXAMPLE_AGENT_TYPES = ["scout", "pilot"]


def served_keys(url: str) -> list:
    """(model, agent_type, vector_length or None) for every key the service serves."""
    with urllib.request.urlopen(f"{url}/models", timeout=10) as response:
        served = json.loads(response.read())
    if served["any_model"]:
        return [(m, t, None) for t in EXAMPLE_AGENT_TYPES for m in EXAMPLE_MODELS]
    return [
        (model, agent_type, m["vector_length"])
        for model, m in served["models"].items()
        # The formula's models only: not onnx, nor a model server's protocol (v2, tfserving).
        if not isinstance(m.get("backend"), dict)
        for agent_type in (m["agent_types"] or EXAMPLE_AGENT_TYPES)
    ]


def one_request(url: str, keys: list, client: int, agents: int, rng: random.Random, token: str) -> tuple:
    body = {"agents": {}}
    for i in range(agents):
        model, agent_type, length = rng.choice(keys)
        body["agents"][f"c{client}-a{i}"] = {
            "vector": [round(rng.uniform(-2, 2), 3) for _ in range(length or rng.randint(2, 6))],
            "model": model,
            "agent_type": agent_type,
        }
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{url}/predict", data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        # A request-level error (e.g. 401, 422, 503): every agent of it counts as wrong.
        said = f"HTTP {error.code}: {error.read().decode(errors='replace')[:300]}"
        return len(body["agents"]), len(body["agents"]), set(), said
    wrong = 0
    for agent_id, agent in body["agents"].items():
        result = answer["results"][agent_id]
        if result.get("prediction") != expected(agent["model"], agent["agent_type"], agent["vector"]):
            wrong += 1
    return len(body["agents"]), wrong, {r["batch"]["id"] for r in answer["results"].values() if "batch" in r}, None


def positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 (got {text!r})")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="examples/client.py",
        description=" ".join(__doc__.split("\n\n")[0].split()),
    )
    parser.add_argument("--url", default=os.environ.get("AGENT_BATCHER_URL", "http://127.0.0.1:8000"),
                        help="the service (default http://127.0.0.1:8000, or AGENT_BATCHER_URL)")
    parser.add_argument("--clients", type=positive, default=20, help="concurrent requests (default 20)")
    parser.add_argument("--agents", type=positive, default=4, help="agents per request (default 4)")
    parser.add_argument("--key", default=os.environ.get("AGENT_BATCHER_KEY"),
                        help="bearer token when the service has API_KEYS (or AGENT_BATCHER_KEY)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the vectors (default 7)")
    args = parser.parse_args()
    url = args.url.rstrip("/")
    try:
        keys = served_keys(url)
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        print(f"client.py: cannot reach {url} ({reason}): is the service running? Start it with `npm start`, or give its address with --url", file=sys.stderr)
        return 2
    if not keys:
        print(f"client.py: nothing to send: every model {url} serves is onnx, v2 or tfserving, whose answers "
              "this client cannot check; start the service without MODELS_FILE, or with a registry that has a "
              "simulated or http model", file=sys.stderr)
        return 2
    rngs = [random.Random(args.seed + c) for c in range(args.clients)]
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        outcomes = list(pool.map(lambda c: one_request(url, keys, c, args.agents, rngs[c], args.key), range(args.clients)))
    agents = sum(o[0] for o in outcomes)
    wrong = sum(o[1] for o in outcomes)
    batches = set().union(*(o[2] for o in outcomes))
    # One line per distinct refusal, not one per request.
    refusals = {}
    for o in outcomes:
        if o[3]:
            refusals[o[3]] = refusals.get(o[3], 0) + 1
    for said, count in refusals.items():
        print(f"client.py: {count} of {args.clients} requests got {said}", file=sys.stderr)
    print(f"{args.clients} clients, {agents} agents, {len(batches)} backend calls, {wrong} wrong predictions")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
