// "Live code": turns a page's code cells into editors that run on a Jupyter kernel.
//
// sphinx-book-theme's launch menu calls window.initThebe(). The kernel comes from the local
// Jupyter server that `eodrec book serve` announces at <book root>/_live/server.json (bound to
// 127.0.0.1, with a token, accepting only the book's origin); where that file is missing (a
// published site) Thebe starts a Binder of the repository (window.EODREC_LIVE, written by the
// live_code extension). Thebe itself is the bundle shipped in the build under thebe/.
(() => {
  "use strict";

  const root = new URL(document.documentElement.dataset.content_root || "./", window.location.href);
  let started = null;

  // myst-nb renders a code cell as div.cell > div.cell_input pre (+ div.cell_output); a hidden
  // source or output sits one level down, in a details element (the book folds every source).
  // Live code unfolds them: the reader asked for the code. Thebe pairs the n-th source with the
  // n-th output placeholder, so every cell gets one.
  function markCells() {
    document.querySelectorAll("div.cell").forEach((cell) => {
      const source = cell.querySelector(
        ":scope > .cell_input pre, :scope > details > .cell_input pre",
      );
      if (!source) return;
      cell.querySelectorAll(":scope > details.hide").forEach((fold) => { fold.open = true; });
      source.setAttribute("data-executable", "true");
      source.setAttribute("data-language", "python");
      let output = cell.querySelector(":scope > .cell_output, :scope > details > .cell_output");
      if (!output) {
        output = document.createElement("div");
        output.className = "cell_output docutils container";
        cell.appendChild(output);
      }
      output.setAttribute("data-output", "true");
    });
  }

  function load(tag, attributes) {
    return new Promise((resolve, reject) => {
      const element = Object.assign(document.createElement(tag), attributes);
      element.onload = resolve;
      element.onerror = () => reject(new Error(`could not load ${attributes.src || attributes.href}`));
      document.head.appendChild(element);
    });
  }

  async function connection() {
    const kernelOptions = window.EODREC_LIVE.kernel;
    try {
      const response = await fetch(new URL("_live/server.json", root), { cache: "no-store" });
      if (response.ok) {
        const server = await response.json();
        return {
          useBinder: false,
          serverSettings: {
            baseUrl: server.baseUrl,
            wsUrl: server.wsUrl,
            token: server.token,
            appendToken: true,
          },
          kernelOptions: { ...kernelOptions, path: server.path },
        };
      }
    } catch (error) {
      console.debug("live code: no local server announced", error);
    }
    return { useBinder: true, binderOptions: window.EODREC_LIVE.binder, kernelOptions };
  }

  // The theme inserts an empty .thebe-launch-button after the title; it shows the status.
  function statusBox() {
    const button = document.querySelector(".thebe-launch-button");
    if (button && !button.querySelector(".thebe-status")) {
      button.textContent = "Live code: ";
      button.appendChild(Object.assign(document.createElement("span"), { className: "thebe-status" }));
    }
  }

  async function start() {
    markCells();
    statusBox();
    await load("link", { rel: "stylesheet", href: new URL("thebe/thebe.css", root).href });
    await load("script", { src: new URL("thebe/index.js", root).href });
    window.thebe.mountStatusWidget();
    const options = await connection();
    return window.thebe.bootstrap({
      ...options,
      requestKernel: true,
      useJupyterLite: false,
      mountActivateWidget: false,
      predefinedOutput: true,
      // Thebe would fetch MathJax 2 from cdnjs for LaTeX in outputs; live outputs show it as
      // source instead (the book's own math is typeset by the MathJax 3 shipped in the build).
      mathjaxUrl: "",
    });
  }

  window.initThebe = () => {
    started = started || start().catch((error) => {
      started = null;
      console.error("live code:", error);
      throw error;
    });
    return started;
  };
})();
