// The console's one script: a conversation page follows the turn running on its session, live. Loaded as a file
// (the Content-Security-Policy allows no inline script), it writes message text only as text, never as HTML.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const reply = document.getElementById("live-reply");
  const content = reply.querySelector(".content");
  const state = reply.querySelector(".live-state");
  const status = live.querySelector(".live-status");
  const POLL_MS = 3000;
  let pollTimer = null;

  function follow(eventsUrl) {
    window.clearTimeout(pollTimer);
    reply.hidden = false;
    content.textContent = "";
    status.textContent = "A turn is running: following it.";
    const source = new EventSource(eventsUrl);
    source.addEventListener("message", function (event) {
      const message = JSON.parse(event.data); // the user's stored message that started the turn
      if (!document.getElementById("message-" + message.id)) {
        const shown = document.getElementById("live-message");
        shown.querySelector(".id").textContent = "#" + message.id;
        shown.querySelector(".content").textContent = message.content;
        shown.hidden = false;
      }
    });
    source.addEventListener("delta", function (event) {
      const data = JSON.parse(event.data);
      if (typeof data.text === "string") {
        content.textContent += data.text;
      }
    });
    function end(label) {
      source.close();
      state.textContent = label;
      status.textContent = "The turn ended (" + label + "); showing what was stored.";
      window.setTimeout(function () { window.location.reload(); }, 500);
    }
    source.addEventListener("done", function () { end("done"); });
    source.addEventListener("error", function (event) {
      if (event.data) {
        end("failed"); // the turn's own `error` event
      } else if (source.readyState === EventSource.CLOSED) {
        end("connection lost");
      } // else the browser reconnects by itself, sending Last-Event-ID
    });
  }

  function poll() {
    pollTimer = window.setTimeout(function () {
      if (document.visibilityState !== "visible") {
        poll();
        return;
      }
      fetch(live.dataset.runningUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("status " + response.status); // signed out, or the session is gone: stop asking
          }
          return response.json();
        })
        .then(function (body) {
          if (body.turn_id) {
            follow(body.events_url);
          } else {
            poll();
          }
        })
        .catch(function () {
          status.textContent = "Stopped watching for new turns; reload the page to watch again.";
        });
    }, POLL_MS);
  }

  if (live.dataset.eventsUrl) {
    follow(live.dataset.eventsUrl);
  } else if (!live.dataset.paged) {
    poll(); // only the newest page grows
  }
})();
