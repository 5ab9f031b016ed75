"""A page to play with a trained sentence VAE: prior samples, reconstructions, interpolations, the adversary's view.

    python app.py                                   # outputs/sequence-vae, the quickstart's model
    python app.py --checkpoint you/awd-wordnet      # a folder or a Hub id; or set HF_AWD_CHECKPOINT

Needs the [demo] extra (and [eval] to score interpolations with BERTScore). The page computes nothing itself: it
wires `hf_awd.demo.Playground` into widgets, and shows its one-line messages for bad input instead of tracebacks.
"""

import argparse
import functools
import os

# Before gradio is imported: no usage reports or version check to gradio's servers (the page works offline).
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from hf_awd.demo import (  # noqa: E402
    CHECKPOINT_VARIABLE,
    DEFAULT_CHECKPOINT,
    MAX_POSTERIOR_SAMPLES,
    MAX_SAMPLES,
    MAX_STEPS,
    Playground,
)
from hf_awd.utils import require  # noqa: E402

try:
    gr = require("gradio", "demo")
except ImportError as error:
    raise SystemExit(f"error: {error}") from None


def in_page(method):
    """A Playground method as an event handler whose ValueError is a message in the page, not a traceback."""
    @functools.wraps(method)
    def handler(*args):
        try:
            return method(*args)
        except ValueError as error:
            raise gr.Error(str(error), print_exception=False) from None
    return handler


def build_page(playground: Playground) -> gr.Blocks:
    with gr.Blocks(title="hf_awd: a sentence VAE", analytics_enabled=False) as page:
        gr.Markdown("# Sentence VAE trained with Adversarial Word Dropout")
        gr.Markdown(playground.status, elem_id="status")

        with gr.Tab("Samples", elem_id="samples_tab"):
            gr.Markdown("Decode z ~ N(0, I). Temperature 0 decodes greedily.")
            with gr.Row():
                num_samples = gr.Slider(1, MAX_SAMPLES, value=5, step=1, label="samples")
                temperature = gr.Slider(0, 2, value=1.0, step=0.05, label="temperature")
                top_p = gr.Slider(0.05, 1, value=0.9, step=0.05, label="top-p")
            sample_button = gr.Button("Sample", variant="primary", elem_id="sample")
            samples = gr.Textbox(label="sentences", lines=5, elem_id="samples")
            sample_button.click(in_page(playground.sample), [num_samples, temperature, top_p], samples)

        with gr.Tab("Reconstruction", elem_id="reconstruction_tab"):
            gr.Markdown("Greedy decode of the posterior mean, and of samples z ~ q(z|x).")
            with gr.Row():
                text = gr.Textbox(label="sentence", placeholder="A small dog ran in the park.", elem_id="text",
                                  scale=3)
                num_posterior = gr.Slider(1, MAX_POSTERIOR_SAMPLES, value=3, step=1, label="posterior samples")
            reconstruct_button = gr.Button("Reconstruct", variant="primary", elem_id="reconstruct")
            with gr.Row():
                mean = gr.Textbox(label="from the posterior mean", elem_id="mean")
                posterior = gr.Textbox(label="from posterior samples", lines=3, elem_id="posterior")
            reconstruct_button.click(in_page(playground.reconstruct), [text, num_posterior], [mean, posterior])

        with gr.Tab("Interpolation", elem_id="interpolation_tab"):
            gr.Markdown("Greedy decodes of points on the line between two posterior means.")
            with gr.Row():
                source = gr.Textbox(label="source", placeholder="A small dog ran.", elem_id="source")
                target = gr.Textbox(label="target", placeholder="The committee approved the plan.", elem_id="target")
                # No minimum/maximum: out of range, Playground.interpolate's message says what is allowed.
                num_steps = gr.Number(3, precision=0, label=f"steps (1 to {MAX_STEPS})", elem_id="steps")
            interpolate_button = gr.Button("Interpolate", variant="primary", elem_id="interpolate")
            scoring = gr.Markdown(elem_id="scoring")
            with gr.Row():
                path = gr.Dataframe(label="path", elem_id="path", scale=3)
                curves = gr.Plot(show_label=False, elem_id="curves", scale=2)  # the figure has its own title
            interpolate_button.click(in_page(playground.interpolate), [source, target, num_steps],
                                     [path, curves, scoring])

        with gr.Tab("Adversary's view", elem_id="saliency_tab"):
            gr.Markdown("Which words the adversary would drop, darker = more likely.")
            saliency_text = gr.Textbox(label="sentence", placeholder="A small dog ran in the park.",
                                       elem_id="saliency_text")
            saliency_button = gr.Button("Show saliency", variant="primary", elem_id="show_saliency")
            saliency = gr.HTML(elem_id="saliency")
            saliency_button.click(in_page(playground.saliency), saliency_text, saliency)
    return page


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=os.environ.get(CHECKPOINT_VARIABLE, DEFAULT_CHECKPOINT),
                        help=f"checkpoint folder or Hub id (default: ${CHECKPOINT_VARIABLE}, "
                             f"else {DEFAULT_CHECKPOINT})")
    parser.add_argument("--host", help="address to serve on (default: gradio's, 127.0.0.1 or $GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, help="port (default: gradio's, 7860 or $GRADIO_SERVER_PORT)")
    args = parser.parse_args()
    build_page(Playground.load(args.checkpoint)).launch(server_name=args.host, server_port=args.port, share=False)


if __name__ == "__main__":
    main()
