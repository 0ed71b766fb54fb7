"""The thread pool runner the passes and the k-means initialiser use."""

import threading
import time

import pytest

from fastgmm import num_threads
from fastgmm._parallel import ordered_map


@pytest.mark.parametrize("n_threads", [1, 2, 4])
def test_results_in_input_order_whatever_finishes_first(n_threads):
    # early items sleep longest, so on more than one thread later items finish first
    items = list(range(40))

    def slow(i):
        time.sleep(0.002 * (40 - i) / 40)
        return i * i

    with num_threads(n_threads):
        assert list(ordered_map(slow, items)) == [i * i for i in items]


def test_uses_the_calling_thread_and_the_pool():
    seen = set()
    barrier = threading.Barrier(3, timeout=10)

    def fn(i):
        seen.add(threading.get_ident())
        if i < 3:  # the first three items can only pass together on three threads
            barrier.wait()
        return i

    with num_threads(3):
        assert list(ordered_map(fn, range(9))) == list(range(9))
    assert threading.get_ident() in seen
    assert len(seen) == 3


def test_every_item_runs_exactly_once():
    calls = []
    lock = threading.Lock()

    def fn(i):
        with lock:
            calls.append(i)
        return i

    with num_threads(4):
        list(ordered_map(fn, range(100)))
    assert sorted(calls) == list(range(100))


def test_first_exception_is_raised_and_stops_the_workers():
    ran = []

    def fn(i):
        ran.append(i)
        if i == 3:
            raise ValueError("item 3")
        time.sleep(0.001)
        return i

    with num_threads(2), pytest.raises(ValueError, match="item 3"):
        list(ordered_map(fn, range(1000)))
    assert len(ran) < 1000


def test_nested_call_from_a_worker_does_not_deadlock():
    def inner(i):
        return i + 1

    def outer(i):
        return sum(ordered_map(inner, range(i)))

    with num_threads(2):
        got = list(ordered_map(outer, range(20)))
    assert got == [sum(range(1, i + 1)) for i in range(20)]


def test_empty_and_single_item():
    with num_threads(4):
        assert list(ordered_map(lambda i: i, [])) == []
        assert list(ordered_map(lambda i: -i, [5])) == [-5]
