"""Macro-averaged F1 over the classes present in references or predictions (shipped locally)."""

import datasets
import evaluate
from sklearn.metrics import f1_score

_DESCRIPTION = "Unweighted mean of per-class F1 scores; classes with no support count as 0."
_KWARGS = "predictions: list of int class ids; references: list of int class ids."


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class F1Macro(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        return {"f1_macro": float(f1_score(references, predictions, average="macro", zero_division=0))}
