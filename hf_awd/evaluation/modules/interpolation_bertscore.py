"""BERTScore F1 along latent-space interpolation paths (the AWD paper's Figure 4(b)): each interpolated sentence
against its path's source and target, averaged per step. The default scorer is the packaged all-MiniLM-L6-v2
(layer 5), so it works offline."""

import datasets
import evaluate

from hf_awd.evaluation.bertscore import DEFAULT_SCORER, load_scorer, score_interpolation_paths

_KWARGS_DESCRIPTION = """
Args:
    paths: per pair, the interpolated sentences in order from source to target (the same number for every pair).
    sources, targets: the two end sentences of each path.
    scorer: "minilm" (default, offline), a Hub id such as "roberta-large", or a local model folder.
    num_layers: layer to score with (needed for a folder).
Returns:
    scorer: which model and layer scored; num_pairs; steps: per step, f1_source, f1_target, their standard
    deviations over pairs, and degenerate (pairs whose sentence is empty or nothing but <unk>).
"""


class InterpolationBertscore(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__, citation="", inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"paths": datasets.Sequence(datasets.Value("string")),
                                        "sources": datasets.Value("string"), "targets": datasets.Value("string")}),
        )

    def _compute(self, paths, sources, targets, scorer=DEFAULT_SCORER, num_layers=None):
        return score_interpolation_paths(paths, sources, targets, load_scorer(scorer, num_layers))
