"""The timing the probe scripts share: the median of repeated calls after one warm-up call."""
import statistics
import time


def median_ms(product, calls):
    """Median milliseconds of `calls` calls of `product`, after one untimed call."""
    product()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        product()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3

# The output projections the vocabulary probes time: BART's and M2M100's vocabularies, 1,024 wide.
VOCABULARY_PROJECTIONS = [(50264, 1024), (128112, 1024)]
