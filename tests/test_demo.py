"""The interactive page: `hf_awd.demo.Playground` (what the page shows, bad input as one-line messages), `app.py`'s
wiring, and the page itself driven in headless Chromium."""

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from datasets import Dataset
from transformers import DataCollatorWithPadding

from hf_awd import AWDTrainer, AWDTrainingArguments
from hf_awd.analysis import sentence_saliency
from hf_awd.data import build_word_tokenizer, encode_sentences
from hf_awd.demo import DEFAULT_CHECKPOINT, MAX_WORDS, Playground
from hf_awd.evaluation import score_interpolation_paths

from .conftest import REPO_ROOT, tiny_model

TEXTS = [
    "the cat sat on the mat .",
    "a dog ran in the park .",
    "the big dog is very happy .",
    "she walked to the old house in the rain .",
    "two red birds sang .",
    "he said that the market fell .",
] * 4
CHROMIUM_FLAGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # no connections the closed network refuses


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    """A few AWD training steps of a tiny model, saved with its tokenizer as scripts/train.py saves them."""
    output_dir = tmp_path_factory.mktemp("checkpoint")
    tokenizer = build_word_tokenizer(TEXTS)
    ids = encode_sentences(tokenizer, TEXTS)
    dataset = Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]})
    args = AWDTrainingArguments(output_dir=str(output_dir), max_steps=5, per_device_train_batch_size=8,
                                report_to="none", eval_strategy="no", save_strategy="no", load_best_model_at_end=False,
                                disable_tqdm=True, seed=0)
    trainer = AWDTrainer(model=tiny_model(tokenizer), args=args, train_dataset=dataset,
                         data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
    trainer.train()
    trainer.save_model()
    return str(output_dir)


@pytest.fixture(scope="module")
def playground(checkpoint) -> Playground:
    pytest.importorskip("bert_score", reason="BERTScore of interpolations needs the [eval] extra")
    return Playground.load(checkpoint)


@pytest.fixture(scope="module")
def unscored(checkpoint) -> Playground:
    return Playground.load(checkpoint, bertscore=False)


# ---- what the page shows ----


def test_status_names_the_checkpoint_its_adversary_and_the_scorer(playground, checkpoint):
    assert playground.problem is None and playground.has_adversary
    assert f"Checkpoint `{checkpoint}`" in playground.status
    assert "adversary's saliency" in playground.status
    assert "BERTScore F1, all-MiniLM-L6-v2, layer 5" in playground.status


def test_prior_samples_are_one_numbered_line_each(unscored):
    for temperature in (0, 1.0):
        lines = unscored.sample(4, temperature, 0.9).splitlines()
        assert [line.split(".")[0] for line in lines] == ["1", "2", "3", "4"]


def test_temperature_zero_decodes_greedily(unscored, monkeypatch):
    calls = []
    monkeypatch.setattr(unscored.model, "decode_latents", lambda z, tokenizer, **options: calls.append(options) or [])
    unscored.sample(2, 0, 0.9)
    unscored.sample(2, 0.7, 0.5)
    assert calls == [{}, {"do_sample": True, "temperature": 0.7, "top_p": 0.5}]


def test_reconstruction_decodes_the_posterior_mean_and_posterior_samples(unscored):
    text = "The cat sat on the mat."
    mean, samples = unscored.reconstruct(f"  {text}  ", 3)
    assert mean == unscored.model.reconstruct(text, unscored.tokenizer)[0]
    assert len(samples.splitlines()) == 3 and samples.startswith("1. ")


def test_an_empty_decode_says_so(unscored, monkeypatch):
    monkeypatch.setattr(unscored.model, "reconstruct", lambda texts, tokenizer: [""])
    monkeypatch.setattr(unscored.model, "explore", lambda text, tokenizer, n: ["a dog ran .", ""])
    assert unscored.reconstruct("a dog ran .", 2) == ("(empty decode)", "1. a dog ran .\n2. (empty decode)")


def test_interpolation_rows_carry_the_bertscore_of_each_step(playground):
    source, target = "the cat sat on the mat .", "two red birds sang ."
    table, figure, note = playground.interpolate(source, target, 3.0)  # gr.Number gives floats
    assert table["headers"] == ["step", "t", "sentence", "F1 to source", "F1 to target"]
    path = playground.model.interpolate(source, target, playground.tokenizer, num_steps=3)
    assert [row[:3] for row in table["data"]] == [[1, 0.25, path[0]], [2, 0.5, path[1]], [3, 0.75, path[2]]]
    expected = score_interpolation_paths([path], [source], [target], playground.scorer)["steps"]
    assert [row[3:] for row in table["data"]] == [
        [round(step["f1_source"], 3), round(step["f1_target"], 3)] for step in expected]
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == ["F1 to source", "F1 to target"]
    assert "(1 pair)" in figure.axes[0].get_title()
    assert note.startswith("BERTScore F1, all-MiniLM-L6-v2")


def test_interpolation_without_a_scorer_says_why(checkpoint, monkeypatch):
    def missing(*args, **kwargs):
        raise ImportError("bert_score is missing: it comes with hf_awd's [eval] extra, pip install 'hf_awd[eval]'")

    monkeypatch.setattr("hf_awd.demo.load_scorer", missing)
    playground = Playground.load(checkpoint)
    table, figure, note = playground.interpolate("the cat sat .", "a dog ran .", 2)
    assert table["headers"] == ["step", "t", "sentence"] and len(table["data"]) == 2 and figure is None
    assert note == ("Interpolations are not scored: bert_score is missing: it comes with hf_awd's [eval] extra, "
                    "pip install 'hf_awd[eval]'.")
    assert note in playground.status


def test_saliency_is_the_analysis_map_of_the_sentence(unscored):
    page = unscored.saliency("the big dog is very happy .")
    [sentence] = sentence_saliency(unscored.model, unscored.tokenizer, ["the big dog is very happy ."])
    assert page.count('title="mu=') == len(sentence.tokens) == 9
    assert page.count("outline:2px") == sentence.k == 3  # round(0.4 * 7) words boxed


# ---- bad input: one line naming the problem ----


@pytest.mark.parametrize("call, message", [
    (lambda p: p.reconstruct("", 3), "The sentence is empty: type a sentence."),
    (lambda p: p.reconstruct("   ", 3), "The sentence is empty: type a sentence."),
    (lambda p: p.reconstruct(None, 3), "The sentence is empty: type a sentence."),
    (lambda p: p.saliency("\n"), "The sentence is empty: type a sentence."),
    (lambda p: p.interpolate("a dog ran .", "", 3), "The target sentence is empty: type a sentence."),
    (lambda p: p.interpolate("a dog ran .", "the cat sat .", 0),
     "The number of steps must be a whole number from 1 to 20, got 0"),
    (lambda p: p.interpolate("a dog ran .", "the cat sat .", 2.5),
     "The number of steps must be a whole number from 1 to 20, got 2.5"),
    (lambda p: p.interpolate("a dog ran .", "the cat sat .", None),
     "The number of steps must be a whole number from 1 to 20, got None"),
    (lambda p: p.reconstruct("the cat sat .", 0),
     "The number of posterior samples must be a whole number from 1 to 10, got 0"),
    (lambda p: p.sample(21, 1.0, 0.9), "The number of samples must be a whole number from 1 to 20, got 21"),
    (lambda p: p.sample(2, -1, 0.9), "The temperature must be 0 (greedy) or more, got -1"),
    (lambda p: p.sample(2, 1.0, 0), "Top-p must be above 0 and at most 1, got 0"),
    (lambda p: p.reconstruct("the cat sat . " * 30, 3),
     f"The sentence has 120 words; the model reads sentences of at most {MAX_WORDS} words."),
])
def test_bad_input_is_a_one_line_message(unscored, call, message):
    with pytest.raises(ValueError) as error:
        call(unscored)
    assert str(error.value) == message


def test_a_missing_checkpoint_is_a_message_for_every_action(tmp_path):
    playground = Playground.load(str(tmp_path / "missing"))
    problem = (f"No model loaded: no checkpoint at '{tmp_path / 'missing'}' (expected a folder with config.json). "
               "Train one with `python scripts/train.py`, or start the page with `--checkpoint PATH_OR_HUB_ID` "
               "(or set HF_AWD_CHECKPOINT).")
    assert playground.status == f"**{problem}**"
    for call in (lambda: playground.sample(2, 1.0, 0.9), lambda: playground.reconstruct("a dog .", 2),
                 lambda: playground.interpolate("a dog .", "a cat .", 2), lambda: playground.saliency("a dog .")):
        with pytest.raises(ValueError, match="^No model loaded: no checkpoint at"):
            call()


def test_the_default_checkpoint_when_missing_is_a_missing_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no outputs/sequence-vae here: not to be looked up on the Hub
    assert Playground.load(DEFAULT_CHECKPOINT).problem.startswith(
        "No model loaded: no checkpoint at './outputs/sequence-vae' (expected a folder with config.json).")


def test_a_hub_id_offline_says_so():  # conftest sets HF_HUB_OFFLINE=1
    problem = Playground.load("someone/awd-wordnet").problem
    assert problem.startswith("No model loaded: Could not load checkpoint 'someone/awd-wordnet': the Hugging Face "
                              "Hub cannot be reached (offline) and it is not a local path or cached.")


def test_a_checkpoint_without_an_adversary_says_so(tmp_path):
    tokenizer = build_word_tokenizer(TEXTS)
    tiny_model(tokenizer, word_dropout="uniform").save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    playground = Playground.load(str(tmp_path), bertscore=False)
    assert "no adversary (word dropout: uniform)" in playground.status
    with pytest.raises(ValueError, match=r"^this checkpoint has no adversary \(it was trained with word_dropout="):
        playground.saliency("the cat sat .")


# ---- app.py ----


def load_app():
    pytest.importorskip("gradio", reason="the page needs the [demo] extra")
    spec = importlib.util.spec_from_file_location("app", REPO_ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_turns_a_bad_input_into_a_message(unscored):
    app = load_app()
    import gradio as gr

    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    with pytest.raises(gr.Error) as error:
        app.in_page(unscored.reconstruct)("", 3)
    assert error.value.message == "The sentence is empty: type a sentence."
    assert isinstance(app.build_page(unscored), gr.Blocks)


# ---- the page in a real browser ----


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def page_url(checkpoint, tmp_path):
    """app.py serving the tiny checkpoint on a free localhost port, as a user starts it; stopped afterwards."""
    pytest.importorskip("gradio", reason="the page needs the [demo] extra")
    port = free_port()
    log = tmp_path / "app.log"
    with open(log, "w") as output:
        app = subprocess.Popen([sys.executable, "app.py", "--checkpoint", checkpoint, "--host", "127.0.0.1",
                                "--port", str(port)], cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if app.poll() is not None:
                pytest.fail(f"app.py exited with {app.returncode}:\n{log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"app.py did not serve {url} within 120 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield url
    finally:
        app.terminate()
        app.wait(timeout=30)


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright; skips where either is missing (.ci/run installs both)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="driving the page needs playwright (the [test] extra)")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium); .ci/run installs it")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where the browser test saves what the user saw: $HF_AWD_SCREENSHOTS (.ci/run sets it), else its tmp_path."""
    folder = Path(os.environ.get("HF_AWD_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_page_in_a_browser(browser, page_url, screenshots):  # browser first: it skips before the app starts
    from playwright.sync_api import expect

    expect.set_options(timeout=60_000)  # a shared 2-core machine: the first decode can take seconds
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(page_url)
    expect(page.locator("#status")).to_contain_text("its adversary's saliency below")

    page.locator("#sample").click()  # the first tab
    expect(page.locator("#samples textarea")).to_have_value(re.compile(r"^1\. .*(\n\d\. .*){4}$"))  # 5 lines

    page.get_by_role("tab", name="Reconstruction").click()
    page.locator("#text textarea").fill("The cat sat on the mat.")
    page.locator("#reconstruct").click()
    expect(page.locator("#mean textarea")).to_have_value(re.compile(r"\w"))
    expect(page.locator("#posterior textarea")).to_have_value(re.compile(r"^1\. .*\n2\. .*\n3\. .*$"))
    page.screenshot(path=screenshots / "reconstruction.png")

    page.get_by_role("tab", name="Interpolation").click()
    page.locator("#source textarea").fill("The cat sat on the mat.")
    page.locator("#target textarea").fill("Two red birds sang.")
    page.locator("#steps input").fill("4")
    page.locator("#interpolate").click()
    expect(page.locator("#path [role=row]")).to_have_count(5)  # the header and one row per step
    expect(page.locator("#path [role=row]").first).to_contain_text("F1 to target")
    expect(page.locator("#path [role=row]").last).to_contain_text("0.8")  # t of step 4
    expect(page.locator("#curves img")).to_be_visible()
    expect(page.locator("#scoring")).to_contain_text("BERTScore F1, all-MiniLM-L6-v2, layer 5")
    page.screenshot(path=screenshots / "interpolation.png", full_page=True)

    page.get_by_role("tab", name="Adversary's view").click()
    page.locator("#saliency_text textarea").fill("The big dog is very happy.")
    page.locator("#show_saliency").click()
    expect(page.locator('#saliency span[title^="mu="]')).to_have_count(9)  # <bos>, 7 words, <eos>
    expect(page.locator('#saliency span[title$="(dropped)"]')).to_have_count(3)
    page.screenshot(path=screenshots / "saliency.png")

    # Bad input: a message in the page (a toast over it), and the page goes on working.
    page.get_by_role("tab", name="Reconstruction").click()
    page.locator("#text textarea").fill("")
    page.locator("#reconstruct").click()
    message = page.locator(".toast-body", has_text="The sentence is empty: type a sentence.")
    expect(message).to_be_visible()
    expect(message).to_have_css("opacity", "1")  # faded in: the screenshot shows it as the user sees it
    page.screenshot(path=screenshots / "empty-text.png")
    page.locator("#text textarea").fill("the cat sat . " * 30)
    page.locator("#reconstruct").click()
    expect(page.locator(".toast-body", has_text="The sentence has 120 words; the model reads sentences of at most "
                                                f"{MAX_WORDS} words.")).to_be_visible()
    page.get_by_role("tab", name="Interpolation").click()
    page.locator("#steps input").fill("0")
    page.locator("#interpolate").click()
    expect(page.locator(".toast-body", has_text="The number of steps must be a whole number from 1 to 20, got 0")
           ).to_be_visible()
    assert "Traceback" not in page.content()

    # Offline: the page asks nothing of any other host (no CDN fonts, scripts or analytics).
    assert {urlparse(url).netloc for url in requested if url.startswith("http")} == {urlparse(page_url).netloc}


def test_a_missing_checkpoint_is_a_message_in_the_page(browser, tmp_path):
    from playwright.sync_api import expect

    app = load_app()
    missing = str(tmp_path / "missing")
    page = app.build_page(Playground.load(missing))
    page.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, share=False, quiet=True)
    try:
        tab = browser.new_page()
        tab.goto(page.local_url)
        expect(tab.locator("#status")).to_contain_text(f"No model loaded: no checkpoint at '{missing}'")
        tab.locator("#sample").click()
        expect(tab.locator(".toast-body")).to_contain_text("No model loaded")
    finally:
        page.close()
