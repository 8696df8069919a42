"""One adapter per modality (vision, text, audio) and per model library (timm, transformers), each registered by
name in `benchmark.specs.adapter_registry`; the rest of the suite looks them up there and never names one."""
