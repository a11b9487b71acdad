#!/usr/bin/env python3
"""A client of agent-batcher in plain Python (standard library only), like the seed's requests
script: sends N concurrent multi-agent requests, and checks every answer against the simulated
backend's exact formula (DESIGN section 4), agent by agent.

    python3 examples/client.py --url http://127.0.0.1:8000 --clients 20 --agents 4

Exit code 0 when every prediction is exact, 1 otherwise.
"""

import argparse
import json
import random
import sys
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


def one_request(url: str, client: int, agents: int, rng: random.Random) -> tuple:
    body = {"agents": {}}
    for i in range(agents):
        body["agents"][f"c{client}-a{i}"] = {
            "vector": [round(rng.uniform(-2, 2), 3) for _ in range(rng.randint(2, 6))],
            "model": rng.choice(["resnet-50", "gpt-mini", "bert-base"]),
            "agent_type": rng.choice(["scout", "pilot"]),
        }
    request = urllib.request.Request(
        f"{url}/predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    wrong = 0
    for agent_id, agent in body["agents"].items():
        result = answer["results"][agent_id]
        if result.get("prediction") != expected(agent["model"], agent["agent_type"], agent["vector"]):
            wrong += 1
    return len(body["agents"]), wrong, {r["batch"]["id"] for r in answer["results"].values() if "batch" in r}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rngs = [random.Random(args.seed + c) for c in range(args.clients)]
    with ThreadPoolExecutor(max_workers=args.clients) as pool:
        outcomes = list(pool.map(lambda c: one_request(args.url.rstrip("/"), c, args.agents, rngs[c]), range(args.clients)))
    agents = sum(o[0] for o in outcomes)
    wrong = sum(o[1] for o in outcomes)
    batches = set().union(*(o[2] for o in outcomes))
    print(f"{args.clients} clients, {agents} agents, {len(batches)} backend calls, {wrong} wrong predictions")
    return 0 if wrong == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
