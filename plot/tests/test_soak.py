"""The soak plot (plot/soak.py) from a synthetic soak.csv."""

import os
import tempfile
import unittest

from plot import soak


class PlotTest(unittest.TestCase):
    def test_the_plot_is_drawn_from_a_soak_csv(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "soak.csv"), "w") as f:
                f.write("sample,phase,round,elapsed_s,mechanism,fds,rss_kib\n")
                for i, (phase, fds) in enumerate([("baseline", 5), ("load", 400), ("end", 5)]):
                    for mech in ("poll", "epoll-lt"):
                        f.write(f"{i + 1},{phase},{i},{i * 30},{mech},{fds},{3000 + i}\n")
            written = soak.render(d)
            self.assertEqual(sorted(os.path.basename(p) for p in written), ["soak.png", "soak.svg"])
            self.assertGreater(os.path.getsize(os.path.join(d, "soak.png")), 1000)


if __name__ == "__main__":
    unittest.main()
