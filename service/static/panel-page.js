/* The panel alone (/console/panel/{id}), for the chat platform to embed. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const S = window.Signaal;
  const panel = new S.Panel(document.getElementById("panel"), {
    conversation: S.meta("conversation"),
    token: S.tokenFromPage("counselor"),
  });
  panel.start();
});
