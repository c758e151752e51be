"""The documents the corpus grew from, by title: a case's ``source``.

Modules whose names start with ``_`` are not case modules; case modules import
them (the loader puts this folder on ``sys.path`` while it loads).
"""

SEED_TYPESPEC_CUSTOM_LAYER = (
    "Why does a custom Keras layer produce a "
    "'TypeError: Could not build a TypeSpec for KerasTensor'?"
)
SEED_TYPESPEC_KERAS_TENSOR = "Why can't a TypeSpec be built for a KerasTensor?"
SEED_INVALID_ARGUMENT = (
    "Why is TensorFlow Keras failing type inference, resulting in an INVALID_ARGUMENT error?"
)
SEED_DYNAMIC_LAYER_SHAPES = "Why does Keras fail to dynamically set layer shapes?"
SEED_LAYER_CLASS = "The Layer class"
