"""Screenshot a drill's report.html in headless Chromium (the whole page), for bench/results/.

Run: .venv/bin/python bench/screenshot_report.py REPORT_HTML OUT_PNG [--width 1280]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args()
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={a.width},1000"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    try:
        driver.get(a.report.resolve().as_uri())
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(a.width, height + 100)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(a.out))
        print(f"{a.out}: {a.width} x {height} px")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
