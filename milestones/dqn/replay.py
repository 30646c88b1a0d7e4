"""Replay memory D that stores every frame once (Nature, Methods: "experience replay").

A transition is (phi_t, a_t, r_t, terminal_t, phi_{t+1}), where phi_t stacks the last 4 frames.
Stored naively, 1M transitions hold 8 frames each: 1M x 8 x 84 x 84 bytes = 56 GB (28 GB sharing
phi_{t+1}). Consecutive stacks share 3 of their 4 frames, so the memory keeps a circular array of
single frames, one per time step, and rebuilds the stacks when it samples: 84 x 84 = 7,056 bytes
plus 7 bytes of bookkeeping per transition, 7.06 GB for 1M.

Layout. Entry i holds the newest frame of phi_t and, once the next frame arrives, the action,
reward and terminal flag of the transition that left phi_t. Every episode also stores its final
frame (flagged ``last``; it starts no transition), so phi_{t+1} always comes from entry i + 1 —
also for the terminal transition and for a time-limit cut, whose next state the target needs.
``age[i]`` counts the frames since the episode began; a stack reaching back past the first frame
repeats that first frame, as gymnasium's ``FrameStackObservation`` (padding "reset") does, so the
sampled stacks are exactly the ones the agent saw.

An entry can start a sampled transition when it has an action (it is neither ``last`` nor the
newest entry) and none of the frames its two stacks need has been overwritten.
"""

from __future__ import annotations

import numpy as np
import torch


class ReplayMemory:
    """Circular memory of ``capacity`` frames with uniform sampling of transitions.

    Use it as the loop meets the environment::

        memory.start(frame)                                      # first frame of an episode
        memory.append(action, reward, terminal, next_frame, episode_end)   # after each step
        batch = memory.sample(32, generator)                     # dict of tensors
    """

    def __init__(self, capacity: int, frame_shape: tuple[int, ...] = (84, 84), history: int = 4,
                 dtype: torch.dtype = torch.uint8):
        if capacity < history + 2:
            raise ValueError(f"capacity {capacity} is too small for stacks of {history} frames")
        self.capacity, self.history = capacity, history
        self.frames = torch.zeros((capacity, *frame_shape), dtype=dtype)
        self.actions = torch.zeros(capacity, dtype=torch.int16)
        self.rewards = torch.zeros(capacity, dtype=torch.float32)
        self.terminals = torch.zeros(capacity, dtype=torch.bool)
        self.last = torch.zeros(capacity, dtype=torch.bool)  # an episode's final frame
        self.age = torch.zeros(capacity, dtype=torch.int32)  # frames since the episode began
        self.cursor = 0  # where the next frame goes
        self.size = 0  # entries written, at most capacity
        self.transitions_added = 0

    def __len__(self) -> int:
        """Transitions that can be sampled."""
        return int(self._valid(torch.arange(self.size)).sum()) if self.size else 0

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in
                   (self.frames, self.actions, self.rewards, self.terminals, self.last, self.age))

    def _write(self, frame, age: int, last: bool) -> None:
        i = self.cursor
        self.frames[i] = torch.as_tensor(np.asarray(frame))
        self.age[i], self.last[i] = age, last
        self.actions[i], self.rewards[i], self.terminals[i] = 0, 0.0, False
        self.cursor = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def start(self, frame) -> None:
        """The first frame of an episode (the newest frame of the reset observation)."""
        self._write(frame, 0, False)

    def append(self, action: int, reward: float, terminal: bool, next_frame,
               episode_end: bool = False) -> None:
        """Record the step that left the newest entry, and the frame it led to.

        ``terminal``: the target does not bootstrap (game over, or a life lost during training).
        ``episode_end``: the environment will be reset (terminal or truncated); ``next_frame`` is
        then the episode's final frame.
        """
        i = (self.cursor - 1) % self.capacity
        if self.size == 0 or self.last[i]:
            raise RuntimeError("append() before start(): begin each episode with start(frame)")
        self.actions[i], self.rewards[i], self.terminals[i] = action, reward, terminal
        self._write(next_frame, min(int(self.age[i]) + 1, self.history), episode_end)
        self.transitions_added += 1

    def _valid(self, idx: torch.Tensor) -> torch.Tensor:
        newest = (self.cursor - 1) % self.capacity
        ok = ~self.last[idx] & (idx != newest)
        if self.size == self.capacity:  # frames older than the cursor have been overwritten
            back = torch.minimum(self.age[idx], torch.tensor(self.history - 1))
            ok &= (idx - self.cursor) % self.capacity >= back
        return ok

    def _stacks(self, idx: torch.Tensor) -> torch.Tensor:
        # offsets d = history-1 ... 0 back from idx, clamped at the episode's first frame
        d = torch.arange(self.history - 1, -1, -1)  # (history,)
        back = torch.minimum(d[None, :], self.age[idx, None])  # (B, history)
        return self.frames[(idx[:, None] - back) % self.capacity]  # (B, history, *frame_shape)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict:
        """``batch_size`` transitions drawn uniformly (with replacement) from the valid ones."""
        if len(self) == 0:
            raise RuntimeError("the replay memory holds no complete transition yet")
        picked: list[torch.Tensor] = []
        need = batch_size
        while need > 0:  # rejection sampling: nearly every entry is valid
            idx = torch.randint(self.size, (2 * need + 8,), generator=generator)
            idx = idx[self._valid(idx)][:need]
            picked.append(idx)
            need -= len(idx)
        idx = torch.cat(picked)
        return self.gather(idx)

    def gather(self, idx: torch.Tensor) -> dict:
        """The transitions starting at entries ``idx``, stacks rebuilt."""
        nxt = (idx + 1) % self.capacity
        return {"index": idx, "state": self._stacks(idx), "action": self.actions[idx].long(),
                "reward": self.rewards[idx], "terminal": self.terminals[idx],
                "next_state": self._stacks(nxt)}

    def latest(self) -> dict:
        """The most recent transition only (the "no replay" ablation of Nature ED Table 3)."""
        i = torch.tensor([(self.cursor - 2) % self.capacity])  # its next frame is the newest
        if self.size >= 2 and self.last[i].item():  # the newest entry began a new episode
            i = (i - 1) % self.capacity
        if self.transitions_added == 0 or self.last[i].item():
            raise RuntimeError("no transition recorded yet")
        return self.gather(i)

    def state_dict(self) -> dict:
        return {"frames": self.frames[:self.size].clone() if self.size < self.capacity
                else self.frames, "actions": self.actions, "rewards": self.rewards,
                "terminals": self.terminals, "last": self.last, "age": self.age,
                "cursor": self.cursor, "size": self.size,
                "transitions_added": self.transitions_added}

    def load_state_dict(self, state: dict) -> None:
        n = state["size"]
        self.frames[:len(state["frames"])] = state["frames"]
        for key in ("actions", "rewards", "terminals", "last", "age"):
            getattr(self, key).copy_(state[key])
        self.cursor, self.size = state["cursor"], n
        self.transitions_added = state["transitions_added"]
