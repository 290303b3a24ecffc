"""The file MLflow runs to load a packaged ragline model ("models from code").

`ragline.mltrack.tabular.pyfunc.package_model` copies this file into every package it writes;
``mlflow.pyfunc.load_model`` executes the copy, which takes `TabularPyfunc` from the installed
ragline and hands MLflow an instance. Nothing is unpickled: the model itself is read from the
package's ``artifacts/model`` folder by `TabularPyfunc.load_context`. Keep this file this short:
what it holds is frozen into every model packaged with it.
"""

from mlflow.models import set_model

from ragline.mltrack.tabular.pyfunc import TabularPyfunc

set_model(TabularPyfunc())
