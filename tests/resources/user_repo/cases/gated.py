import numpy as np
from tfcanary.case import Built, Claim, layer_case

X = np.linspace(-1, 1, 16 * 32, dtype="float32").reshape(16, 32)

gated = layer_case(
    "gated-residual-weight-names", family="mycompany-layers",
    source="Keras 3 refuses add_weight's name passed positionally",
    claim=Claim("ValueError", "must be passed as a keyword argument", versions="Keras 3"),
    doc="mycompany.layers.GatedResidual with positional weight names; the fix passes name=.",
)


@gated.broken
def _(tf, keras):
    from mycompany.layers import GatedResidual
    return Built(GatedResidual(positional_names=True), x=X)


@gated.fixed
def _(tf, keras):
    from mycompany.layers import GatedResidual
    return Built(GatedResidual(), x=X)
