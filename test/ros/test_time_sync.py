"""ApproximateTimeSync: known pairings, newest-first eviction, three inputs, threads."""
import threading

import pytest

from kinpose_ros.ros.time_sync import ApproximateTimeSync


def make(n=2, slop=0.01, queue=5):
    out = []
    return ApproximateTimeSync(n, slop, queue, lambda *m: out.append(m)), out


def test_exact_and_near_pairs_in_either_order():
    sync, out = make()
    assert not sync.add(0, 1.000, 'd1')
    assert sync.add(1, 1.000, 'i1')
    assert not sync.add(1, 2.000, 'i2')
    assert sync.add(0, 2.008, 'd2')  # within 10 ms
    assert out == [('d1', 'i1'), ('d2', 'i2')]
    assert sync.pending() == [0, 0]


def test_outside_slop_does_not_match():
    sync, out = make(slop=0.005)
    sync.add(0, 1.000, 'd')
    assert not sync.add(1, 1.010, 'i')
    assert out == [] and sync.pending() == [1, 1]


def test_older_unmatched_messages_are_discarded_when_a_newer_set_matches():
    sync, out = make()
    for k in range(3):
        sync.add(0, 1.0 + k * 0.1, f'd{k}')
    sync.add(1, 1.2, 'i2')  # camera info arrives late, only for the newest depth
    assert out == [('d2', 'i2')]
    assert sync.evicted == 2 and sync.pending() == [0, 0]
    sync.add(1, 1.0, 'i0-late')  # stale: nothing to match any more
    assert out == [('d2', 'i2')]


def test_queue_bound_evicts_oldest():
    sync, out = make(queue=3)
    for k in range(5):
        sync.add(0, float(k), k)
    assert sync.pending() == [3, 0] and sync.evicted == 2
    sync.add(1, 4.0, 'i')
    assert out == [(4, 'i')]


def test_nearest_candidate_is_chosen_and_three_inputs():
    sync, out = make(n=3, slop=0.02)
    sync.add(1, 0.990, 'i-early')
    sync.add(1, 1.004, 'i-near')
    sync.add(2, 1.010, 'rgb')
    assert sync.add(0, 1.000, 'depth')
    assert out == [('depth', 'i-near', 'rgb')]


def test_bad_arguments():
    with pytest.raises(ValueError, match='slop_s'):
        ApproximateTimeSync(2, -1, 5, print)
    with pytest.raises(ValueError, match='queue_size'):
        ApproximateTimeSync(2, 0.1, 0, print)
    with pytest.raises(IndexError):
        make()[0].add(2, 0.0, 'x')


def test_concurrent_producers_pair_every_stamp():
    sync, out = make(queue=100)
    n = 500

    def produce(index):
        for k in range(n):
            sync.add(index, k * 0.1, (index, k))
    threads = [threading.Thread(target=produce, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for depth, info in out:
        assert depth[1] == info[1]  # never mixes stamps
    assert len(out) + sync.evicted // 2 >= n * 0.5
    assert out[-1] == ((0, n - 1), (1, n - 1))
