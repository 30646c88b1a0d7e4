// Renders the $...$ and $$...$$ LaTeX of the page with KaTeX (served from the site itself).
// auto-render skips <pre> and <code>, so the code column is left as it is.
renderMathInElement(document.body, {
  delimiters: [
    {left: "$$", right: "$$", display: true},
    {left: "$", right: "$", display: false},
  ],
  throwOnError: true,
});
