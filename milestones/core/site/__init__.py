r"""The annotated site: ``python -m milestones.site --out site/`` builds static HTML from the code.

One page per milestone's README (rendered, its results figures copied), and each milestone's
``model.py`` and ``train.py`` (and adam's ``optim.py``) as annotated pages in the style of
pycco/docco: the comments and docstrings in a column beside the code they describe, their
``$...$`` / ``$$...$$`` LaTeX rendered by KaTeX, every ``DEVIATION(Dn)`` marker linked to its row of
the README's deviations table. The annotation is the code's own comments, so the site cannot drift
from the code. The index lists every milestone of ``milestones.REGISTRY`` with the headline of its
README's Results section.

The site works offline and from ``file://``: every link and resource is a relative path inside
the site, and KaTeX is served from the site itself (``static/katex/``, vendored from the npm
registry; version and integrity in ``static/katex/VERSION``). To refresh KaTeX, from the
repository root::

    cd milestones/core/site/static/katex && rm -rf fonts contrib katex.min.* LICENSE && \
      npm pack katex@0.16 --json | python3 -c 'import json, sys; d = json.load(sys.stdin)[0]; \
      print("katex %(version)s\nintegrity %(integrity)s\nfrom %(filename)s" % d)' > VERSION
    tar xzf katex-*.tgz --strip-components=2 --wildcards package/dist/katex.min.js \
      package/dist/katex.min.css package/dist/contrib/auto-render.min.js \
      'package/dist/fonts/*.woff2'
    tar xzf katex-*.tgz --strip-components=1 package/LICENSE && rm katex-*.tgz

Only the ``.woff2`` fonts are kept: every browser that runs KaTeX 0.16 reads them, so the
``.woff``/``.ttf`` fallbacks that ``katex.min.css`` also names are never requested.
"""
