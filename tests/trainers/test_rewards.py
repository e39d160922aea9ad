"""The rewards: the core motion reward through a flow plugin, the MLLM reward's judge contract."""

from __future__ import annotations

import math
import pytest
import torch

from mebench.errors import MebenchError
from mebench.plugin_manager import MebenchPluginManager
from mebench.trainers.recipe import RewardConfig
from mebench.trainers.rewards import build_rewards
from mebench.trainers.toy import blob_centroid, render_blob, toy_prompts


def test_motion_reward_through_the_flow_plugin(pm: MebenchPluginManager) -> None:
    prompts = toy_prompts(size=64, num_prompts=4, sigma=5.0, max_shift=8.0)
    reward = build_rewards([RewardConfig(name="motion", weight=1.0,
                                         args={"flow": "opencv-dis"})], pm=pm)["motion"]
    src = torch.stack([p.source for p in prompts])
    tgt = torch.stack([p.target for p in prompts])  # type: ignore[misc]
    assert reward(prompts, tgt).tolist() == [1.0] * 4
    c, ct = blob_centroid(src), blob_centroid(tgt)
    backwards = reward(prompts, render_blob(c - (ct - c), size=64, sigma=5.0))
    assert torch.all(backwards < 1.0)
    assert torch.allclose(backwards * 5, (backwards * 5).round())  # the 6-level reward
    # resized: an edited image at another size is compared at that size
    small = torch.nn.functional.interpolate(tgt, size=(48, 48), mode="bilinear")
    assert reward(prompts, small).mean().item() >= 0.8


def test_reward_names_and_arguments_are_checked(pm: MebenchPluginManager) -> None:
    with pytest.raises(MebenchError, match="unknown reward 'motoin'.*did you mean 'motion'"):
        build_rewards([RewardConfig(name="motoin", weight=1.0)], pm=pm)
    with pytest.raises(MebenchError, match="does not take argument"):
        build_rewards([RewardConfig(name="motion", weight=1.0, args={"flwo": "x"})], pm=pm)
    with pytest.raises(MebenchError, match="unknown flow"):
        build_rewards([RewardConfig(name="motion", weight=1.0, args={"flow": "nope"})], pm=pm)


def test_mllm_reward_asks_a_judge_over_http_in_expected_score_mode(
        pm: MebenchPluginManager) -> None:
    from servers.judge_api import FakeJudgeAPI, Fault

    prompts = toy_prompts(num_prompts=2)
    images = torch.stack([p.target for p in prompts]  # type: ignore[misc]
                         + [p.source for p in prompts])
    with FakeJudgeAPI() as api:
        args = {"judge": "openai-compatible", "model": "Qwen/Qwen2.5-VL-32B-Instruct",
                "judge_args": {"base_url": api.openai_base_url, "max_retries": 0},
                "concurrency": 2}
        reward = build_rewards([RewardConfig(name="mllm", weight=1.0, args=args)],
                               pm=pm)["mllm"]
        four = [*prompts, *prompts]
        first = reward(four, images)
        assert first.shape == (4,) and torch.all((first >= 0) & (first <= 1))
        assert torch.equal(reward(four, images), first)  # the same images, the same scores
        sent = api.exchanges()
        assert len(sent) == 8 and all(x.answered for x in sent)
        # the score is the expected digit / 5 under the first token's digit probabilities
        by_hand = []
        for exchange in sent[:4]:
            top = exchange.reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            probs = {e["token"]: math.exp(e["logprob"]) for e in top
                     if len(e["token"]) == 1 and e["token"] in "012345"}
            by_hand.append(sum(int(d) * p for d, p in probs.items()) / sum(probs.values()) / 5)
        assert sorted(first.tolist()) == pytest.approx(sorted(by_hand), abs=1e-6)
        assert api.max_in_flight <= 2
        api.inject(Fault.server_error(), times=1)  # a failed request: NaN, never a made-up score
        third = reward(four, images)
        assert int(torch.isnan(third).sum()) == 1
        assert torch.equal(third[~torch.isnan(third)], first[~torch.isnan(third)])
        assert len(reward.failures) == 1  # type: ignore[attr-defined]
        reward.close()  # type: ignore[attr-defined]


def test_mllm_reward_needs_the_expected_score_mode(pm: MebenchPluginManager) -> None:
    args = {"judge": "openai-compatible", "model": "m",
            "judge_args": {"base_url": "http://127.0.0.1:9/v1", "mode": "rubric"}}
    with pytest.raises(MebenchError, match="no expected-score mode"):
        build_rewards([RewardConfig(name="mllm", weight=1.0, args=args)], pm=pm)
    with pytest.raises(MebenchError, match="could not build judge"):
        build_rewards([RewardConfig(name="mllm", weight=1.0,
                                    args={"judge": "openai-compatible", "model": "m"})], pm=pm)
