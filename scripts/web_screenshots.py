"""Retake the README's screenshots of the web page (docs/web/*.png) with Debian's headless Chromium.

Indexes examples/ into a temporary folder, records a few questions as chat would, starts
`citebot web` on 127.0.0.1 and photographs four pages: python scripts/web_screenshots.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.bot.web.browser import chrome, missing  # noqa: E402
from tests.bot.web.conftest import ADMIN_TOKEN, free_port  # noqa: E402

OUT = ROOT / "docs" / "web"


def main() -> int:
    why = missing()
    if why:
        print(f"cannot take screenshots: {why}", file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEBOT_", "DISCORD_", "SLACK_"))}
    env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               CITEBOT_WEB_ADMIN_TOKEN=ADMIN_TOKEN)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        cli = [sys.executable, "-m", "bot.cli"]
        subprocess.run(cli + ["ingest", "--index", str(index), str(ROOT / "examples")], env=env, check=True,
                       capture_output=True)
        from bot.feedback import FeedbackStore

        fb = FeedbackStore(index / "feedback.sqlite")
        for platform, scope, q, auto in [
            ("discord", "81234", "how do I get a plot in the community garden?", False),
            ("slack", "T024BE7LD", "how much does a garden plot cost per year?", True),
            ("shell", None, "what license are the Yi models under?", False),
            ("discord", "81234", "what licence do the Yi models use", False),
            ("slack", "T024BE7LD", "does Python 3.13 still have the GIL?", False),
            ("discord", "81234", "how do I reset my password?", True),
            ("slack", "T024BE7LD", "How do I reset my password", False),
            ("shell", None, "reset password", False),
        ]:
            fb.record(platform=platform, scope=scope, user="u", question=q, vote=0, auto=auto)
            time.sleep(0.01)
        fb.close()
        subprocess.run(cli + ["ask", "--index", str(index), "how do I bake sourdough bread?"], env=env,
                       capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(cli + ["web", "--index", str(index), "--port", str(port)], env=env,
                                  stderr=subprocess.PIPE, text=True, cwd=tmp)
        try:
            line = ""
            while "serving" not in line and server.poll() is None:
                line = server.stderr.readline()
            OUT.mkdir(parents=True, exist_ok=True)
            driver = chrome(1280, 860)
            try:
                from selenium.webdriver.common.by import By

                driver.get(base + "/login")
                driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
                driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()

                def shot(path: str, name: str, *, dark: bool = False, phone: bool = False) -> None:
                    scheme = "dark" if dark else "light"
                    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                                           {"features": [{"name": "prefers-color-scheme", "value": scheme}]})
                    if phone:
                        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                               {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
                    else:
                        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
                    driver.get(base + path)
                    driver.save_screenshot(str(OUT / name))
                    print(f"{OUT / name}: {(OUT / name).stat().st_size // 1024} kB")

                shot("/ask?q=who+founded+01.AI%3F", "ask.png")
                shot("/unanswered", "unanswered-dark.png", dark=True)
                shot("/sources", "sources.png")
                shot("/ask?q=when+did+OpenAI+unveil+Sora%3F", "ask-phone-dark.png", dark=True, phone=True)
            finally:
                driver.quit()
        finally:
            server.terminate()
            server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
