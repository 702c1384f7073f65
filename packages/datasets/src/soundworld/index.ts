export { WORLD_CLASSES, classByName, type EventClass, type WorldAudioType, type Pattern } from './classes.js';
export { captionClip, clipLabels, describeEvent, questionFor, choiceItemFor, type WorldEvent, type WorldClipSpec, type WorldQuestion, type WorldChoiceItem, type CaptionStyle } from './text.js';
export {
  generateWorld, renderClip, makeClipSpec, clipAudioPath, WORLD_SIZES,
  type World, type WorldOptions, type WorldSize, type WorldManifest, type WorldClassInfo,
  type PretrainPair, type ClassificationItem, type CaptionItem, type AqaItem, type MmauItem,
} from './generate.js';
export { writeWorld, loadWorld, type LoadedWorld, type WriteWorldOptions } from './io.js';
