// Shared mutable state of the review page: the one object every module reads and writes.

export const state = {
  items: [],
  selectedId: null,
  detail: null, // {review, ticket, result} of the selected item
  detailSeq: 0,
  queueSeq: 0,
  busy: false,
  knownQueues: new Set(),
  drafts: new Map(), // review id -> edited reply text
  labelEdits: new Map(), // review id -> {field: value} as typed
  readOnly: false, // the open review is no longer pending (opened from a link): nothing to decide
  view: "reviews", // or "escalations"
  escalations: [],
  escSeq: 0,
  undos: new Map(), // review id -> {subject, deadline (performance.now() ms), node, timer}
};

// The id of the review whose detail is on screen, or null.
export const openId = () => (state.detail && state.detail.review ? state.detail.review.id : null);
