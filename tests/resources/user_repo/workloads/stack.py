import numpy as np
from tfcanary.case import Built, layer_case

stack = layer_case("mycompany-gated-stack", family="workload", tags=("workload",),
                   doc="Three GatedResidual blocks on a (16, 32) batch.")


@stack.broken
@stack.fixed
def _(tf, keras):
    from mycompany.layers import GatedResidual
    model = keras.Sequential([GatedResidual() for _ in range(3)])
    return Built(model, x=np.random.default_rng(0).random((16, 32), dtype=np.float32))
