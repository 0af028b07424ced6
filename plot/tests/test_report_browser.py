"""report.html of the committed reference run in a real browser (Debian's chromium, headless):
the first screen is drawn, the verdict table and every inline SVG plot are in the rendered DOM,
no image lacks its source, and the console stays silent.

Skips only when chromium is missing and cannot be installed here (not root, or apt-get failed);
./bench test installs it with the other packages."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

from plot import document, report, report_html
from plot.claim_common import CLAIMS

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "results", "reference")
# Where the first screen is kept when asked (MUXBENCH_REPORT_SCREENSHOT=path.png).
KEEP = os.environ.get("MUXBENCH_REPORT_SCREENSHOT")


def find_chromium():
    """The chromium binary, installed first when missing and this runs as root; (path, why not)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path, ""
    if os.geteuid() != 0:
        return None, "chromium is not installed (install it with: sudo apt-get install -y chromium)"
    proc = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        capture_output=True,
        text=True,
        timeout=900,
    )
    path = shutil.which("chromium")
    if path:
        return path, ""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return None, f"chromium is not installed and apt-get could not install it: {tail[0]}"


def png_size_and_colours(path):
    """(width, height, distinct colours) of a PNG: enough to tell a drawn page from a blank one.
    Pillow comes with python3-matplotlib, which the tests' Python has."""
    from PIL import Image

    with Image.open(path) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        return image.width, image.height, len(colours or [])


class Finding(unittest.TestCase):
    def test_without_chromium_and_not_root_the_skip_says_how_to_install_it(self):
        with mock.patch("shutil.which", return_value=None), mock.patch(
            "os.geteuid", return_value=1000
        ):
            path, why = find_chromium()
        self.assertIsNone(path)
        self.assertIn("sudo apt-get install -y chromium", why)


class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.chromium, why = find_chromium()
        if cls.chromium is None:
            raise unittest.SkipTest(why)
        cls.tmp = tempfile.mkdtemp(prefix="report-browser-")
        results, _, cls.doc = report.document(REFERENCE)
        cls.html = os.path.join(cls.tmp, "report.html")
        with open(cls.html, "w") as f:
            f.write(report_html.page(cls.doc, results.path))
        cls.shot = os.path.join(cls.tmp, "first-screen.png")
        proc = subprocess.run(
            [
                cls.chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={os.path.join(cls.tmp, 'profile')}",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,900",
                f"--screenshot={cls.shot}",
                "--dump-dom",
                "file://" + cls.html,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        cls.dom, cls.log, cls.status = proc.stdout, proc.stderr, proc.returncode
        if KEEP and os.path.isfile(cls.shot):
            shutil.copyfile(cls.shot, KEEP)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_chromium_ran(self):
        self.assertEqual(self.status, 0, self.log[-2000:])

    def test_the_first_screen_is_drawn(self):
        self.assertTrue(os.path.isfile(self.shot), self.log[-2000:])
        width, height, colours = png_size_and_colours(self.shot)
        self.assertEqual((width, height), (1280, 900))
        self.assertGreater(colours, 8, "the screenshot is (nearly) blank")

    def test_the_verdict_table_rendered(self):
        section = self.dom[self.dom.index('<section id="verdicts">') :]
        table = section[: section.index("</table>")]
        self.assertIn("headline figure", table)
        self.assertEqual(len(re.findall(r'<a href="#claim-\d+">', table)), len(CLAIMS))

    def test_every_plot_rendered(self):
        stems = [
            b.stem for s in self.doc.sections for b in s.blocks if isinstance(b, document.Figure)
        ]
        self.assertTrue(stems)
        for stem in stems:
            figure = self.dom[self.dom.index(f'<figure id="{stem}">') :]
            figure = figure[: figure.index("</figure>")]
            self.assertIn("<svg", figure, stem)
            self.assertIn("<path", figure, f"{stem}: an empty SVG")

    def test_no_image_lacks_its_source(self):
        for img in re.findall(r"<img\b[^>]*>", self.dom):
            self.assertRegex(img, r'src="data:', img[:200])

    def test_the_console_stays_silent(self):
        console = [line for line in self.log.splitlines() if ":CONSOLE" in line]
        self.assertEqual(console, [])


if __name__ == "__main__":
    unittest.main()
