import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """DQN's small networks run fastest on one thread (and 2-core CI has little to share)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
