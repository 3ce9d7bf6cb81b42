"""xuncha service: HTTP, storage, auth, settings and the CLI.

pandas 3 stores text in pyarrow arrays whenever pyarrow is installed (it is, for GeoParquet), and
pyarrow cannot hold a lone UTF-16 surrogate: a hostile upload or JSON body with ``"\\ud800"``
would then fail inside pandas instead of being refused per row by :mod:`geo.cases`. The service
keeps pandas' Python string storage, the behaviour it is tested with.
"""

import pandas as _pd

_pd.set_option("mode.string_storage", "python")
