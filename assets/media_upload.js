// The media library's uploader: the file goes from the browser straight to the signed storage
// URL(s) the server handed out — never through the app's websocket — in one PUT or part by part.
// It talks to the page's state through hidden inputs (a value written here fires the input's
// on_change there), so a long upload never holds the page's event queue.
(function () {
  if (window.pfMedia) return;
  const PICKER = "media-file-input";
  const CHOSEN = "media-upload-chosen";
  const PROGRESS = "media-upload-progress";
  const DONE = "media-upload-done";
  let file = null;

  function tell(id, value) {
    const input = document.getElementById(id);
    if (!input) return;
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
    setter.call(input, typeof value === "string" ? value : JSON.stringify(value));
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function put(url, headers, body, onProgress) {
    return new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("PUT", url);
      Object.entries(headers || {}).forEach(([name, value]) => request.setRequestHeader(name, value));
      request.upload.onprogress = (event) => onProgress(event.loaded);
      request.onload = () => {
        if (request.status >= 200 && request.status < 300) {
          let etag = request.getResponseHeader("ETag");
          if (!etag) {
            try { etag = JSON.parse(request.responseText).etag; } catch (e) { etag = ""; }
          }
          resolve(etag || "");
        } else {
          let message = "The storage refused the upload (HTTP " + request.status + ").";
          try { message = JSON.parse(request.responseText).error || message; } catch (e) { /* XML from S3 */ }
          reject(new Error(message));
        }
      };
      request.onerror = () => reject(new Error("The connection broke during the upload; try again."));
      request.send(body);
    });
  }

  async function send(plan) {
    const chosen = file;
    if (!chosen) return;
    let lastTold = 0;
    const progress = (sent) => {
      const now = Date.now();
      if (now - lastTold > 400) {
        lastTold = now;
        tell(PROGRESS, String(Math.floor((100 * sent) / chosen.size)));
      }
    };
    try {
      const parts = [];
      if (plan.parts.length === 0) {
        await put(plan.url, plan.headers, chosen, progress);
      } else {
        let offset = 0;
        for (const part of plan.parts) {
          const blob = chosen.slice(offset, offset + part.size_bytes);
          const base = offset;
          let etag = null;
          for (let attempt = 1; etag === null; attempt++) {
            try {
              etag = await put(part.url, {}, blob, (sent) => progress(base + sent));
            } catch (error) {
              if (attempt >= 3) throw error; // a part is retried on its own, the rest stays sent
            }
          }
          parts.push([part.number, etag]);
          offset += part.size_bytes;
        }
      }
      tell(DONE, { media_id: plan.media_id, parts: parts, error: "" });
    } catch (error) {
      tell(DONE, { media_id: plan.media_id, parts: [], error: String(error.message || error) });
    } finally {
      file = null;
      const picker = document.getElementById(PICKER);
      if (picker) picker.value = "";
    }
  }

  document.addEventListener("change", (event) => {
    if (!event.target || event.target.id !== PICKER || !event.target.files.length) return;
    file = event.target.files[0];
    tell(CHOSEN, { name: file.name, type: file.type, size: file.size });
  });

  window.pfMedia = {
    pick: () => document.getElementById(PICKER).click(),
    send: send,
  };
})();
