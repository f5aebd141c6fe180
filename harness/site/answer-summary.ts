/** The answer summary lives with compare, which labels pairs by it; the atlas renders the same facets. */
export { answerSummary, changedFacets } from '../compare/answer-summary.js'
export type { AnswerFacet, AnswerSummary, FacetKind } from '../compare/answer-summary.js'
